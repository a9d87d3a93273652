import Testing
@Suite struct RunnelStorageTestsPlaceholder { @Test func moduleBuilds() { #expect(Bool(true)) } }
