// Keeps docs/configuration.md in step with the settings table.
import Foundation
import Testing
@testable import RunnelBroker

@Suite struct ConfigDocumentationTests {
    @Test func docsConfigurationMdMatchesTheSettingsTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("docs/configuration.md").path
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(committed == ConfigDocumentation.markdown(),
                "docs/configuration.md is out of date: run `swift run runnel config docs > docs/configuration.md`")
    }

    @Test func configRunnelTomlMatchesTheTableAndLoadsToTheEmbeddedDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("config/runnel.toml").path
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(committed == ConfigDocumentation.exampleTOML(),
                "config/runnel.toml is out of date: run `swift run runnel config toml > config/runnel.toml`")
        let fromFile = try BrokerConfig.load(path: path)
        let embedded = try BrokerConfig.load()
        #expect(fromFile.explicitValues == embedded.explicitValues)
    }

    @Test func documentationMentionsEverySetting() {
        let markdown = ConfigDocumentation.markdown()
        for definition in ConfigTable.all {
            #expect(markdown.contains("`\(definition.name)`"))
        }
    }
}
