import Testing
@Suite struct KafkaProtocolTestsPlaceholder { @Test func moduleBuilds() { #expect(Bool(true)) } }
