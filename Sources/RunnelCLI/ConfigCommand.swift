// `runnel config`: print the configuration reference or the effective broker configuration.
import ArgumentParser
import RunnelBroker

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show settings: the reference documentation or the effective values.",
        subcommands: [Docs.self, TOML.self, Show.self])

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print docs/configuration.md, generated from the settings table.",
            discussion: "Example:\n  runnel config docs > docs/configuration.md")

        func run() throws {
            print(ConfigDocumentation.markdown(), terminator: "")
        }
    }

    struct TOML: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "toml",
            abstract: "Print config/runnel.toml: the default settings and every other one, documented.",
            discussion: "Example:\n  runnel config toml > config/runnel.toml")

        func run() throws {
            print(ConfigDocumentation.exampleTOML(), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every broker setting's effective value and where it comes from.",
            discussion: "Example:\n  runnel config show --config config/runnel.toml --override num.partitions=3")

        @OptionGroup var settings: BrokerConfigOptions

        func run() throws {
            let brokerConfig = try settings.load()
            for entry in brokerConfig.describeBrokerConfigs() {
                let source = entry.isDefault ? "default" : "static (\(entry.synonyms.first?.name ?? entry.name))"
                print("\(entry.name) = \(entry.value ?? "(unset)")  # \(source)")
            }
        }
    }
}
