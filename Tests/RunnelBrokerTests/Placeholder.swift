import Testing
@Suite struct RunnelBrokerTestsPlaceholder { @Test func moduleBuilds() { #expect(Bool(true)) } }
