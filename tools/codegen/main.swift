// runnel-codegen: regenerates Sources/KafkaProtocol/Generated from the Kafka schemas.
// Usage: runnel-codegen <schema dir> [<schema dir> ...] <output dir>
import Foundation
import KafkaCodegen

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: runnel-codegen <schema dir>... <output dir>\n".utf8))
    exit(2)
}
do {
    let count = try KafkaCodegen.run(schemaDirectories: Array(arguments.dropLast()), outputDirectory: arguments[arguments.count - 1])
    print("runnel-codegen: wrote \(count) files to \(arguments[arguments.count - 1])")
} catch {
    FileHandle.standardError.write(Data("runnel-codegen: \(error)\n".utf8))
    exit(1)
}
