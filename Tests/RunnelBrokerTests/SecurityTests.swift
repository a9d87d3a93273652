// Tests for the security building blocks: Kafka's JAAS syntax, ssl.principal.mapping.rules,
// listener-prefixed settings, and the SASL servers (PLAIN, SCRAM against RFC 7677's example and
// against the client side, with a wrong nonce and a wrong proof).
import Foundation
import RunnelClient
import Testing
@testable import RunnelBroker

@Suite struct SecurityTests {
    @Test func jaasConfigIsParsedAsKafkaDoes() throws {
        let text = """
            org.apache.kafka.common.security.plain.PlainLoginModule required
              username="admin" password="admin-secret" // the broker's own credentials
              user_admin="admin-secret" /* users */ user_alice="al\\"ice" user_bob=bob-secret;
            """
        let jaas = try JaasConfig(parsing: text)
        #expect(jaas.modules.count == 1)
        #expect(jaas.modules[0].controlFlag == "required")
        #expect(jaas.plainUsers == ["admin": "admin-secret", "alice": "al\"ice", "bob": "bob-secret"])
        #expect(jaas.clientCredentials?.username == "admin")
        #expect(throws: JaasConfig.ParseError.self) { try JaasConfig(parsing: "Module required user_a=\"x\"") }
        #expect(throws: JaasConfig.ParseError.self) { try JaasConfig(parsing: "Module mandatory;") }
        #expect(throws: JaasConfig.ParseError.self) { try JaasConfig(parsing: "Module required a=\"open;") }
    }

    @Test func principalMappingRulesFollowKafka() throws {
        let mapper = try SslPrincipalMapper(parsing: """
            RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,
            RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L,
            RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,
            DEFAULT
            """)
        #expect(mapper.name(for: "CN=kafka1,OU=ServiceUsers,O=Org") == "kafka1")
        #expect(mapper.name(for: "CN=Duke,OU=JavaSoft,O=Sun") == "duke@javasoft")
        #expect(mapper.name(for: "O=Org,CN=svc.a,L=x") == "SVC.A")
        #expect(mapper.name(for: "O=NoCommonName") == "O=NoCommonName")
        let strict = try SslPrincipalMapper(parsing: "RULE:^CN=(.*)$/$1/")
        #expect(strict.name(for: "O=Org") == nil)
        #expect(SslPrincipalMapper.defaultMapper.name(for: "CN=a,O=b") == "CN=a,O=b")
        #expect(throws: SslPrincipalMapper.ParseError.self) { try SslPrincipalMapper(parsing: "RULE:^CN=(.*$/x/") }
        #expect(throws: SslPrincipalMapper.ParseError.self) { try SslPrincipalMapper(parsing: "NOPE") }
    }

    @Test func listenerPrefixedSettingsAreAcceptedAndResolved() throws {
        let config = try BrokerConfig.load(overrides: [
            "listeners=PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_bob=\"pw\";",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
            "inter.broker.listener.name=PLAINTEXT",
        ])
        let security = try config.listenerSecurity(scramCredentials: StaticScramCredentials())
        #expect(security["PLAINTEXT"]?.securityProtocol == .plaintext)
        #expect(security["SASL_PLAINTEXT"]?.sasl?.plainUsers == ["bob": "pw"])
        #expect(security["SASL_PLAINTEXT"]?.sasl?.enabledMechanisms == ["PLAIN"])
        #expect(throws: ConfigError.self) {
            try BrokerConfig.load(overrides: ["listener.name.x.scram-sha-1.sasl.jaas.config=a required;"])
        }
        #expect(throws: ConfigError.self) { try BrokerConfig.load(overrides: ["inter.broker.listener.name=NOPE"]) }
        #expect(throws: ConfigError.self) {
            try BrokerConfig.load(overrides: ["listener.name.plaintext.ssl.principal.mapping.rules=RULE:broken"])
        }
    }

    @Test func plainChecksUserAndPassword() {
        let users = ["alice": "secret"]
        var ok = SaslServer(plain: users)
        #expect(ok.evaluate(Array("\0alice\0secret".utf8)) == .complete(user: "alice", response: []))
        for token in ["\0alice\0wrong", "\0bob\0secret", "alice\0secret", "other\0alice\0secret", "\0alice\0"] {
            var server = SaslServer(plain: users)
            guard case .failed = server.evaluate(Array(token.utf8)) else {
                Issue.record("PLAIN accepted \(token.debugDescription)")
                continue
            }
        }
    }

    /// RFC 7677 section 3: user "user", password "pencil".
    @Test func scramSha256MatchesRfc7677() throws {
        let salt = try #require(ScramMessages.base64("W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = try ScramCredential(mechanism: .sha256, password: "pencil", salt: salt, iterations: 4096)
        var client = ScramClient(mechanism: .sha256, username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(String(decoding: client.firstMessage(), as: UTF8.self) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let final = try client.finalMessage(serverFirst: Array(serverFirst.utf8))
        #expect(String(decoding: final, as: UTF8.self)
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        try client.verify(serverFinal: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        #expect(credential.iterations == 4096 && credential.storedKey.count == 32)
    }

    private func scramServer(_ mechanism: ScramMechanism, password: String = "s3cret") throws -> SaslServer {
        let credential = try ScramCredential(mechanism: mechanism, password: password, iterations: 4096)
        return SaslServer(scram: mechanism, credentials: StaticScramCredentials(["alice": [mechanism: credential]]))
    }

    /// The primitives beneath SCRAM (libcrypto, decision 0025) against values computed independently
    /// (Python's hashlib and hmac): PBKDF2-HMAC-SHA-512, HMAC-SHA-512 and SHA-256.
    @Test func scramPrimitivesMatchKnownAnswers() throws {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        let salt = Array("salt".utf8)
        #expect(hex(try ScramMechanism.sha512.saltedPassword("password", salt: salt, iterations: 1))
                == "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce")
        #expect(hex(try ScramMechanism.sha512.saltedPassword("password", salt: salt, iterations: 2))
                == "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53cf76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e")
        #expect(hex(ScramMechanism.sha512.hmac(key: Array("key".utf8), Array("The quick brown fox jumps over the lazy dog".utf8)))
                == "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a")
        #expect(hex(ScramMechanism.sha256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: ScramError.invalidIterations(0)) { try ScramMechanism.sha256.saltedPassword("p", salt: salt, iterations: 0) }
    }

    /// A client certificate's subject in the RFC 2253 form Kafka's principal builder sees (Java's
    /// X500Principal.getName()): most significant RDN last, `,` and `;` escaped, UTF-8 kept.
    /// Certificates made with `openssl req -x509 -subj "/O=Runnel/OU=eng/CN=alice"` and
    /// `-utf8 -subj "/C=DE/O=Müller, Söhne/CN=Doe;John"`.
    @Test func certificateSubjectsPrintAsKafkaPrintsThem() throws {
        let alice = try #require(Data(base64Encoded: "MIIBtDCCAVugAwIBAgIUb/Sd4WTXXWYwLzoEuox04gTZicAwCgYIKoZIzj0EAwIwLzEPMA0GA1UECgwGUnVubmVsMQwwCgYDVQQLDANlbmcxDjAMBgNVBAMMBWFsaWNlMCAXDTI2MTIwNDIyMzAwM1oYDzIxMjYxMTEwMjIzMDAzWjAvMQ8wDQYDVQQKDAZSdW5uZWwxDDAKBgNVBAsMA2VuZzEOMAwGA1UEAwwFYWxpY2UwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQqS8ypcWA4mJXKnYdqcsL7j0qbLCfiB6Xg55QOWBBfr/jlV5kMhv4KBsMj/7+JYbOVb2WGoMvTwHQkc9rO/tZXo1MwUTAdBgNVHQ4EFgQU7Mesk9DjEV6CFG7wS/IfzftIGx4wHwYDVR0jBBgwFoAU7Mesk9DjEV6CFG7wS/IfzftIGx4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBd2JcByUJodKF8pTixLkh4mVMAni0tB3C/aTAnJadxzAIgZP5FcQKHbuets87JtHiFYF3JjwX+nXqUrLLwkELGY+U="))
        #expect(try TLSConnectionHandler.subject(derEncoded: Array(alice)) == "CN=alice,OU=eng,O=Runnel")
        let escaped = try #require(Data(base64Encoded: "MIIByzCCAXGgAwIBAgIUX8ICkOTteNG4gXh0ja30IcGcR/cwCgYIKoZIzj0EAwIwOjELMAkGA1UEBhMCREUxGDAWBgNVBAoMD03DvGxsZXIsIFPDtmhuZTERMA8GA1UEAwwIRG9lO0pvaG4wIBcNMjYxMjA0MjIzMDA1WhgPMjEyNjExMTAyMjMwMDVaMDoxCzAJBgNVBAYTAkRFMRgwFgYDVQQKDA9Nw7xsbGVyLCBTw7ZobmUxETAPBgNVBAMMCERvZTtKb2huMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEz7+TKB603jZkKuOSSaVdeuyECNRh8d9HVXAMS9vY2qjCBIigd0JGRy4yJZYJ9nJGCciZbHVO/YQs4oFvuQfQB6NTMFEwHQYDVR0OBBYEFEf/R0xPsjJGfIRJXDMsQUysg7r/MB8GA1UdIwQYMBaAFEf/R0xPsjJGfIRJXDMsQUysg7r/MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgQw283vhVx38kMxN6oDJMJYxV0v1st7BGAXz8QR6EMDQCIQDBnXjai6HbPOWOsJ+G6otChNjQHMLbnTOgl1c4WgXCEA=="))
        #expect(try TLSConnectionHandler.subject(derEncoded: Array(escaped)) == "CN=Doe\\;John,O=Müller\\, Söhne,C=DE")
        #expect(throws: UnreadableCertificateError.self) { try TLSConnectionHandler.subject(derEncoded: Array(alice.prefix(100))) }
        #expect(throws: UnreadableCertificateError.self) { try TLSConnectionHandler.subject(derEncoded: []) }
    }

    @Test(arguments: ScramMechanism.allCases)
    func scramRoundTripAuthenticates(mechanism: ScramMechanism) throws {
        var server = try scramServer(mechanism)
        var client = ScramClient(mechanism: mechanism, username: "alice", password: "s3cret")
        guard case .challenge(let serverFirst) = server.evaluate(client.firstMessage()) else {
            Issue.record("no server-first message")
            return
        }
        guard case .complete(let user, let serverFinal) = server.evaluate(try client.finalMessage(serverFirst: serverFirst)) else {
            Issue.record("SCRAM exchange failed")
            return
        }
        #expect(user == "alice")
        try client.verify(serverFinal: serverFinal)
    }

    @Test func scramWrongPasswordNonceOrProofFails() throws {
        for tamper in ["password", "nonce", "proof", "binding", "unknown-user", "garbage"] {
            var server = try scramServer(.sha512)
            var client = ScramClient(mechanism: .sha512, username: tamper == "unknown-user" ? "mallory" : "alice",
                                     password: tamper == "password" ? "wrong" : "s3cret")
            let first = server.evaluate(client.firstMessage())
            if tamper == "unknown-user" {
                guard case .failed = first else { Issue.record("unknown user got a challenge"); continue }
                continue
            }
            guard case .challenge(let serverFirst) = first else { Issue.record("no challenge"); continue }
            var final = String(decoding: try client.finalMessage(serverFirst: serverFirst), as: UTF8.self)
            switch tamper {
            case "nonce": final = final.replacingOccurrences(of: ",p=", with: "x,p=")
            case "proof":
                let parts = final.components(separatedBy: ",p=")
                final = parts[0] + ",p=" + ScramMessages.base64(ScramMessages.randomBytes(64))
            case "binding": final = "c=eSws" + final.dropFirst("c=biws".count)
            case "garbage": final = "p=,,,=="
            default: break
            }
            guard case .failed = server.evaluate(Array(final.utf8)) else {
                Issue.record("SCRAM accepted a client-final with a bad \(tamper)")
                continue
            }
        }
    }
}
