// Flower's content-addressed objects, written and read by hand: each object is
// "TYPE CHILD-ID,CHILD-ID BODY-LENGTH\0BODY" and is named by the SHA-256 of those bytes, and a
// message is a tree of them: Message -> RecordDict -> ArrayRecord -> Array -> ArrayChunk (and
// ConfigRecord, MetricRecord). Bodies are JSON (the records of records, an Array's metadata),
// protobuf (a Message's metadata, config and metric records) or raw bytes (a chunk of a .npy
// array). JSON is written exactly as Flower's Python writes it, so that both sides name an
// object alike. This file knows the format; FleetClient moves the objects.

import Crypto
import Foundation
import SwiftProtobuf

/// One object of Flower's object store.
struct FlowerObject {
    /// The class name Flower gives it: "Message", "RecordDict", "ArrayRecord", "Array", "ArrayChunk", ...
    let type: String
    /// The ids of its children, each once, in the order Flower lists them.
    let children: [String]
    /// Header and body, as stored and hashed.
    let content: [UInt8]
    /// Where the body starts in `content`.
    let bodyStart: Int
    /// Lower-case hex SHA-256 of `content`.
    let id: String

    var body: ArraySlice<UInt8> { content[bodyStart...] }

    /// The types Flower's object store accepts.
    static let knownTypes: Set<String> = ["Message", "RecordDict", "ArrayRecord", "ConfigRecord", "MetricRecord", "Array", "ArrayChunk"]

    /// The largest chunk of an array's bytes (Flower's FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE default, 5 MiB).
    static let maximumChunkBytes = 5 * 1024 * 1024

    init(type: String, children: [String], body: some Collection<UInt8>) {
        let header = "\(type) \(children.joined(separator: ",")) \(body.count)"
        var content = [UInt8](header.utf8)
        content.reserveCapacity(content.count + 1 + body.count)
        content.append(0)
        bodyStart = content.count
        content += body
        self.type = type
        self.children = children
        self.content = content
        id = Self.hexDigest(content)
    }

    /// Parses the object `content` that the server sent for `expectedID`, checking its hash,
    /// its header and its body length.
    init(content: [UInt8], expectedID: String) throws {
        let id = Self.hexDigest(content)
        guard id == expectedID else { throw FleetError.malformed("object \(expectedID): its content hashes to \(id)") }
        guard let zero = content.firstIndex(of: 0) else { throw FleetError.malformed("object \(id): no header (no NUL after it)") }
        guard let header = String(validating: content[..<zero], as: UTF8.self) else { throw FleetError.malformed("object \(id): its header is not UTF-8") }
        let parts = header.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, let length = Int(parts[2]) else { throw FleetError.malformed("object \(id): header \"\(header.prefix(200))\" is not \"TYPE CHILDREN LENGTH\"") }
        guard Self.knownTypes.contains(String(parts[0])) else { throw FleetError.malformed("object \(id): unknown type \(parts[0].prefix(64))") }
        guard length == content.count - zero - 1 else { throw FleetError.malformed("object \(id): its header says \(length) body bytes, it holds \(content.count - zero - 1)") }
        let children = parts[1].isEmpty ? [] : parts[1].split(separator: ",").map(String.init)
        guard children.allSatisfy(Self.isObjectID) else { throw FleetError.malformed("object \(id): a child id is not a SHA-256 in hex") }
        type = String(parts[0])
        self.children = children
        self.content = content
        bodyStart = zero + 1
        self.id = id
    }

    static func hexDigest(_ bytes: some DataProtocol) -> String {
        let digest = SHA256.hash(data: bytes)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func isObjectID(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Objects keyed by id with the tree that links them, as a message is pushed.
struct ObjectBundle {
    var objects: [String: FlowerObject] = [:]

    mutating func add(_ object: FlowerObject) -> FlowerObject {
        objects[object.id] = object
        return object
    }

    /// The tree of `root` as the Fleet API carries it (each child once, in header order).
    func tree(of root: String) -> Flwr_Proto_ObjectTree {
        var tree = Flwr_Proto_ObjectTree()
        tree.objectID = root
        tree.children = objects[root]!.children.map { self.tree(of: $0) }
        return tree
    }

    /// The ids of `tree` children first, the root last (the order objects are pushed and pulled in).
    static func postOrder(_ tree: Flwr_Proto_ObjectTree) -> [String] {
        tree.children.flatMap(postOrder) + [tree.objectID]
    }
}

// MARK: - writing

/// JSON as Python's `json.dumps` writes it by default: `{"key": value, "key2": value}` with
/// ASCII-only strings, so an object's id is the same whichever side computes it.
enum PythonJSON {
    static func string(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(unit)!)
            default: out += "\\u" + String(repeating: "0", count: 4 - String(unit, radix: 16).count) + String(unit, radix: 16)
            }
        }
        return out + "\""
    }

    /// `{"a": "x", "b": "y"}` from ordered pairs of strings.
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\(string($0.0)): \(string($0.1))" }.joined(separator: ", ") + "}"
    }
}

/// A metric value of a MetricRecord: an integer or a float.
public enum FleetMetric: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
}

enum ObjectWriter {
    /// An Array of `npy` bytes (its chunks added to `bundle`), with Flower's metadata.
    static func array(npy: [UInt8], dtype: String, shape: [Int], into bundle: inout ObjectBundle) -> FlowerObject {
        var chunkIDs: [String] = []
        var start = 0
        repeat {
            let end = min(start + FlowerObject.maximumChunkBytes, npy.count)
            chunkIDs.append(bundle.add(FlowerObject(type: "ArrayChunk", children: [], body: npy[start..<end])).id)
            start = end
        } while start < npy.count
        var unique: [String] = []
        for id in chunkIDs where !unique.contains(id) { unique.append(id) }
        let indices = chunkIDs.map { unique.firstIndex(of: $0)! }
        let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        let indexText = "[" + indices.map(String.init).joined(separator: ", ") + "]"
        let body = "{\"dtype\": \(PythonJSON.string(dtype)), \"shape\": \(shapeText), \"stype\": \"numpy.ndarray\", \"arraychunk_ids\": \(indexText)}"
        return bundle.add(FlowerObject(type: "Array", children: unique, body: Array(body.utf8)))
    }

    /// A record of named children (ArrayRecord of Arrays, RecordDict of records): a JSON body of names to ids.
    static func record(_ type: String, _ items: [(String, FlowerObject)], into bundle: inout ObjectBundle) -> FlowerObject {
        var unique: [String] = []
        for (_, child) in items where !unique.contains(child.id) { unique.append(child.id) }
        let body = PythonJSON.object(items.map { ($0.0, $0.1.id) })
        return bundle.add(FlowerObject(type: type, children: unique, body: Array(body.utf8)))
    }

    static func metricRecord(_ items: [(String, FleetMetric)], into bundle: inout ObjectBundle) throws -> FlowerObject {
        var record = Flwr_Proto_MetricRecord()
        record.items = items.map { key, metric in
            var item = Flwr_Proto_MetricRecord.Item()
            item.key = key
            switch metric {
            case let .integer(value): item.value.sint64 = value
            case let .real(value): item.value.double = value
            }
            return item
        }
        return bundle.add(FlowerObject(type: "MetricRecord", children: [], body: try record.serializedBytes() as [UInt8]))
    }

    /// A Message: its metadata (with no message id: the id is the object's own) and either a
    /// content child or an error.
    static func message(_ metadata: Flwr_Proto_Metadata, content: FlowerObject?, error: Flwr_Proto_Error?, into bundle: inout ObjectBundle) throws -> FlowerObject {
        var proto = Flwr_Proto_Message()
        proto.metadata = metadata
        proto.metadata.messageID = ""
        if let error { proto.error = error }
        return bundle.add(FlowerObject(type: "Message", children: content.map { [$0.id] } ?? [], body: try proto.serializedBytes() as [UInt8]))
    }
}

// MARK: - reading

/// A message pulled from the server, its objects checked and linked.
struct PulledMessage {
    let metadata: Flwr_Proto_Metadata
    /// Record name -> the record object (ArrayRecord, ConfigRecord, MetricRecord); empty for an error.
    let records: [(name: String, object: FlowerObject)]
    let error: Flwr_Proto_Error?
    let objects: [String: FlowerObject]

    /// Links the objects of `tree` (each already checked against its id) into a message.
    init(tree: Flwr_Proto_ObjectTree, objects: [String: FlowerObject], metadata: Flwr_Proto_Metadata) throws {
        self.objects = objects
        self.metadata = metadata
        let root = try Self.object(tree.objectID, in: objects, type: "Message")
        try Self.checkChildren(of: root, against: tree)
        let proto: Flwr_Proto_Message
        do { proto = try Flwr_Proto_Message(serializedBytes: Array(root.body)) } catch {
            throw FleetError.malformed("message \(root.id): its metadata is not a flwr.proto.Message (\(error))")
        }
        if proto.hasError {
            error = proto.error
            records = []
            return
        }
        error = nil
        guard root.children.count == 1 else { throw FleetError.malformed("message \(root.id): it has neither content nor an error") }
        let content = try Self.object(root.children[0], in: objects, type: "RecordDict")
        records = try Self.namedChildren(of: content, in: objects).map { name, object in
            guard ["ArrayRecord", "ConfigRecord", "MetricRecord"].contains(object.type) else {
                throw FleetError.malformed("record \(name): a \(object.type) where a record belongs")
            }
            return (name, object)
        }
    }

    static func object(_ id: String, in objects: [String: FlowerObject], type: String) throws -> FlowerObject {
        guard let object = objects[id] else { throw FleetError.protocolViolation("object \(id) of the message was not pulled") }
        guard object.type == type else { throw FleetError.malformed("object \(id): a \(object.type) where a \(type) belongs") }
        return object
    }

    /// The tree the server announced must list the same children as each object's header.
    static func checkChildren(of object: FlowerObject, against tree: Flwr_Proto_ObjectTree) throws {
        guard tree.children.map(\.objectID) == object.children else {
            throw FleetError.malformed("object \(object.id): its header lists children \(object.children), the message tree \(tree.children.map(\.objectID))")
        }
    }

    /// A JSON body of names to child ids, each id one of the object's children.
    static func namedChildren(of object: FlowerObject, in objects: [String: FlowerObject]) throws -> [(String, FlowerObject)] {
        let pairs = try jsonObject(object)
        return try pairs.map { name, value in
            guard let id = value as? String, object.children.contains(id), let child = objects[id] else {
                throw FleetError.malformed("\(object.type) \(object.id): entry \(name) names no child of it")
            }
            return (name, child)
        }
    }

    /// The keys and values of a JSON object body, in the order written.
    static func jsonObject(_ object: FlowerObject) throws -> [(String, Any)] {
        let data = Data(object.body)
        guard let dictionary = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FleetError.malformed("\(object.type) \(object.id): its body is not a JSON object")
        }
        // JSONSerialization forgets the order; the keys' positions in the text restore it.
        let text = String(decoding: object.body, as: UTF8.self)
        func position(_ key: String) -> String.Index { text.range(of: PythonJSON.string(key))?.lowerBound ?? text.endIndex }
        return dictionary.keys.sorted { position($0) < position($1) }.map { ($0, dictionary[$0]!) }
    }

    /// The record named `name`, if the message has one of that type.
    func record(named name: String, type: String) -> FlowerObject? {
        records.first { $0.name == name && $0.object.type == type }?.object
    }

    /// The first record of `type`.
    func firstRecord(ofType type: String) -> (name: String, object: FlowerObject)? {
        records.first { $0.object.type == type }
    }

    /// The entries of a ConfigRecord.
    func config(_ record: FlowerObject) throws -> [String: Flwr_Proto_ConfigRecordValue] {
        let proto: Flwr_Proto_ConfigRecord
        do { proto = try Flwr_Proto_ConfigRecord(serializedBytes: Array(record.body)) } catch {
            throw FleetError.malformed("ConfigRecord \(record.id): not a flwr.proto.ConfigRecord (\(error))")
        }
        return Dictionary(proto.items.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    }

    /// One Array of an ArrayRecord: its name, metadata and .npy bytes (its chunks joined).
    struct ArrayEntry {
        let name: String
        let dtype: String
        let shape: [Int]
        let npy: [UInt8]
    }

    /// The arrays of `record` in the order the record lists them.
    func arrays(of record: FlowerObject) throws -> [ArrayEntry] {
        try Self.namedChildren(of: record, in: objects).map { name, array in
            guard array.type == "Array" else { throw FleetError.malformed("array \(name): a \(array.type) where an Array belongs") }
            let metadata = Dictionary(try Self.jsonObject(array), uniquingKeysWith: { $1 })
            guard let dtype = metadata["dtype"] as? String, let shape = metadata["shape"] as? [Int],
                  let stype = metadata["stype"] as? String, let chunkIndices = metadata["arraychunk_ids"] as? [Int] else {
                throw FleetError.malformed("array \(name): its metadata lacks dtype, shape, stype or arraychunk_ids")
            }
            guard stype == "numpy.ndarray" else { throw FleetError.mismatched("array \(name) is serialised as \(stype), not numpy.ndarray") }
            var npy: [UInt8] = []
            for index in chunkIndices {
                guard array.children.indices.contains(index), let chunk = objects[array.children[index]], chunk.type == "ArrayChunk" else {
                    throw FleetError.malformed("array \(name): chunk index \(index) names no ArrayChunk of it")
                }
                npy += chunk.body
            }
            return ArrayEntry(name: name, dtype: dtype, shape: shape, npy: npy)
        }
    }
}
