// KafkaCodegen: turns Kafka JSON message schemas into Swift codecs (one file per message, an ApiKey
// table and a dispatch decoder).
import Foundation

/// Entry points of the generator.
public enum KafkaCodegen {
    /// Loads every `.json` schema in `directories`, sorted by file name.
    public static func loadSchemas(from directories: [String]) throws -> [MessageSchema] {
        var schemas: [MessageSchema] = []
        let manager = FileManager.default
        for directory in directories {
            let names: [String]
            do {
                names = try manager.contentsOfDirectory(atPath: directory)
            } catch {
                throw CodegenError.io("cannot list \(directory): \(error)")
            }
            for name in names.sorted() where name.hasSuffix(".json") {
                let path = (directory as NSString).appendingPathComponent(name)
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw CodegenError.io("cannot read \(path)")
                }
                schemas.append(try MessageSchema(text: text, fileName: name))
            }
        }
        return schemas
    }

    /// True for schemas that get a generated type: every request, response and data schema with
    /// at least one valid version. Headers are hand-written (RequestHeader, ResponseHeader).
    static func isGenerated(_ schema: MessageSchema) -> Bool {
        schema.kind != "header" && !schema.validVersions.isEmpty
    }

    /// Generates every output file: file name → contents.
    public static func generate(schemas: [MessageSchema]) throws -> [String: String] {
        var files: [String: String] = [:]
        let generated = schemas.filter(isGenerated)
        let names = Set(generated.map(\.name))
        for schema in generated {
            let text = try MessageGenerator(message: schema, generatedNames: names).generate()
            files[schema.name + ".swift"] = text
        }
        let requests = schemas.filter { $0.kind == "request" }
        let responses = schemas.filter { $0.kind == "response" && names.contains($0.name) }
        files[ApiKeyTableGenerator.metadataFileName] = ApiKeyTableGenerator.metadata(requests: requests)
        files[ApiKeyTableGenerator.decoderFileName] = ApiKeyTableGenerator.decoder(
            requests: requests.filter(isGenerated), responses: responses, all: generated)
        return files
    }

    /// Regenerates `outputDirectory` from `schemaDirectories`: writes every file and removes
    /// generated `.swift` files that no schema produces any more. Returns the number of files written.
    @discardableResult
    public static func run(schemaDirectories: [String], outputDirectory: String) throws -> Int {
        let files = try generate(schemas: loadSchemas(from: schemaDirectories))
        let manager = FileManager.default
        try manager.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let existing = (try? manager.contentsOfDirectory(atPath: outputDirectory)) ?? []
        for name in existing where name.hasSuffix(".swift") && files[name] == nil {
            try manager.removeItem(atPath: (outputDirectory as NSString).appendingPathComponent(name))
        }
        for (name, text) in files {
            let path = (outputDirectory as NSString).appendingPathComponent(name)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return files.count
    }
}
