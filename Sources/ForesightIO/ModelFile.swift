// The one file layout for checkpoints and exported models: safetensors (an 8-byte
// little-endian header length, a JSON header naming every tensor's type, shape and byte
// range plus string metadata, then the raw little-endian tensor bytes), with Foresight's
// format version and a checksum in the metadata. Writes are atomic: a temporary file in the
// same folder, fsync, rename, fsync of the folder; a crash leaves the previous file intact.

import Foundation
import ForesightCore

/// A tensor stored in a model file.
public struct StoredTensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Offset of its bytes in the file's data section.
    public let offset: Int
    public let byteCount: Int
}


/// A safetensors file read into memory and checked.
///
/// ```swift
/// try ModelFile.write(to: "ckpt.safetensors", metadata: ["architecture": "pc64"], tensors: [("w", tensor)])
/// let file = try ModelFile(path: "ckpt.safetensors")
/// file.metadata["architecture"]   // "pc64"
/// ```
public struct ModelFile: Sendable {
    /// Version of Foresight's metadata conventions written into every file.
    public static let formatVersion = "1"

    public let path: String
    public let metadata: [String: String]
    public let tensors: [String: StoredTensor]
    private let data: Data
    private let dataStart: Int

    /// Reads and checks `path`: header, byte ranges, format version, checksum, and that every
    /// float32 tensor is finite (a NaN or infinite weight is an error naming the tensor).
    public init(path: String) throws {
        try self.init(path: path, verifyingChecksum: true)
    }

    /// Reads and checks `path`, the checksum only when `verifyingChecksum`: the fuzz targets
    /// (Sources/ForesightFuzz) skip it, as libpng's fuzzers skip CRCs, so that mutated values
    /// reach the checks behind it. Every other check holds either way.
    package init(path: String, verifyingChecksum: Bool) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw IOError.modelFile(path: path, problem: "cannot be read (missing or not a file)")
        }
        func fail(_ problem: String) -> IOError { IOError.modelFile(path: path, problem: problem) }
        guard bytes.count >= 8 else { throw fail("is \(bytes.count) bytes long, too short for a safetensors header") }
        let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength > 1, headerLength <= UInt64(bytes.count - 8), headerLength < 100_000_000 else {
            throw fail("declares a header of \(headerLength) bytes but the file has \(bytes.count) bytes: truncated or not a safetensors file")
        }
        let headerEnd = 8 + Int(headerLength)
        guard let object = try? JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<headerEnd)), let header = object as? [String: Any] else {
            throw fail("has a header that is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: StoredTensor] = [:]
        let dataLength = bytes.count - headerEnd
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: String] else { throw fail("has metadata that is not a map of strings") }
                metadata = map
                continue
            }
            guard let entry = value as? [String: Any], let typeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("describes tensor \(name) without dtype, shape and data_offsets")
            }
            guard let dtype = DType.allCases.first(where: { $0.safetensorsName == typeName }) else {
                throw fail("stores tensor \(name) as \(typeName), which Foresight does not read")
            }
            guard shape.allSatisfy({ $0 >= 0 }), shape.count <= 8 else { throw fail("gives tensor \(name) the invalid shape \(shape)") }
            let (elements, overflow) = shape.reduce((1, false)) { partial, extent in
                let product = partial.0.multipliedReportingOverflow(by: extent)
                return (product.partialValue, partial.1 || product.overflow)
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataLength,
                  offsets[1] - offsets[0] == elements * dtype.byteSize else {
                throw fail("places tensor \(name) (\(shape), \(typeName)) at bytes \(offsets) of a \(dataLength)-byte data section: truncated or corrupted")
            }
            tensors[name] = StoredTensor(name: name, dtype: dtype, shape: shape, offset: offsets[0], byteCount: offsets[1] - offsets[0])
        }
        guard let version = metadata["foresight.format"] else { throw fail("has no foresight.format entry: not written by Foresight") }
        guard version == ModelFile.formatVersion else {
            throw fail("is format version \(version); this Foresight reads version \(ModelFile.formatVersion)")
        }
        var hash = FNV1a64()
        hash.add(ModelFile.describedContents(metadata: metadata, tensors: tensors.values.map { ($0.name, $0.dtype, $0.shape, $0.offset, $0.byteCount) }))
        bytes.withUnsafeBytes { raw in hash.add(UnsafeRawBufferPointer(rebasing: raw[headerEnd...])) }
        let checksum = hash.value
        guard !verifyingChecksum || metadata["foresight.checksum"] == String(checksum, radix: 16) else {
            throw fail("fails its checksum (stored \(metadata["foresight.checksum"] ?? "none"), computed \(String(checksum, radix: 16))): its header or data is corrupted")
        }
        // A checksum is kept by whatever wrote the file; weights that are NaN or infinite would
        // only turn every output into NaN, so they are refused here, naming the tensor.
        // (An int8 encoder file's float32 tensors are its scales, which its reader checks to be
        // finite and positive, naming the tensor.)
        for stored in tensors.values.sorted(by: { $0.name < $1.name }) where stored.dtype == .float32 && metadata["int8.format"] == nil {
            if let (index, value) = ModelFile.firstNonFinite(bytes, from: headerEnd + stored.offset, count: stored.byteCount / 4) {
                throw fail("tensor \(stored.name) holds \(value) at element \(index) (of \(stored.byteCount / 4)): weights must be finite; the file was written by a run that diverged or was damaged")
            }
        }
        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self.data = bytes
        self.dataStart = headerEnd
    }

    /// The index and value of the first NaN or infinite float among `count` little-endian
    /// float32 values at byte `start` of `bytes`, or nil when all are finite.
    static func firstNonFinite(_ bytes: Data, from start: Int, count: Int) -> (Int, Float)? {
        bytes.withUnsafeBytes { raw -> (Int, Float)? in
            let base = raw.baseAddress! + start
            for i in 0..<count {
                let value = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                if !value.isFinite { return (i, value) }
            }
            return nil
        }
    }

    /// Copies stored tensor `name` into `tensor`, which must have its type and shape.
    public func load(_ name: String, into tensor: Tensor) throws {
        guard let stored = tensors[name] else { throw IOError.modelFile(path: path, problem: "has no tensor \(name)") }
        guard stored.dtype == tensor.dtype, stored.shape == tensor.shape.dims else {
            throw IOError.modelFile(path: path, problem: "stores \(name) as \(stored.dtype) \(stored.shape), but the model needs \(tensor.dtype) \(tensor.shape.dims)")
        }
        data.withUnsafeBytes { raw in
            tensor.data.copyMemory(from: raw.baseAddress! + dataStart + stored.offset, byteCount: stored.byteCount)
        }
    }

    /// Writes `tensors` and `metadata` to `path` atomically (temporary file, fsync, rename).
    /// The format version and checksum are added to the metadata.
    public static func write(to path: String, metadata: [String: String], tensors: [(name: String, tensor: Tensor)]) throws {
        func fail(_ problem: String) -> IOError { IOError.modelFile(path: path, problem: problem) }
        var header: [String: Any] = [:]
        var offset = 0
        var described: [(String, DType, [Int], Int, Int)] = []
        for (name, tensor) in tensors {
            header[name] = ["dtype": tensor.dtype.safetensorsName, "shape": tensor.shape.dims, "data_offsets": [offset, offset + tensor.byteCount]]
            described.append((name, tensor.dtype, tensor.shape.dims, offset, tensor.byteCount))
            offset += tensor.byteCount
        }
        var allMetadata = metadata
        allMetadata["foresight.format"] = formatVersion
        var checksum = FNV1a64()
        checksum.add(describedContents(metadata: allMetadata, tensors: described))
        for (_, tensor) in tensors { checksum.add(UnsafeRawBufferPointer(start: tensor.data, count: tensor.byteCount)) }
        allMetadata["foresight.checksum"] = String(checksum.value, radix: 16)
        header["__metadata__"] = allMetadata
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // the data section starts 8-byte aligned
        var length = Data(count: 8)
        for i in 0..<8 { length[i] = UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i))) }

        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = partialPath(of: path, processID: getpid())
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw fail("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(descriptor); unlink(temporary) } }
        func writeAll(_ pointer: UnsafeRawPointer, _ count: Int) throws {
            var written = 0
            while written < count {
                let result = Foundation.write(descriptor, pointer + written, count - written)
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw fail("write failed: \(String(cString: strerror(errno)))") }
                written += result
            }
        }
        try length.withUnsafeBytes { try writeAll($0.baseAddress!, 8) }
        try json.withUnsafeBytes { try writeAll($0.baseAddress!, json.count) }
        for (_, tensor) in tensors where tensor.byteCount > 0 { try writeAll(tensor.data, tensor.byteCount) }
        guard fsync(descriptor) == 0 else { throw fail("fsync failed: \(String(cString: strerror(errno)))") }
        close(descriptor)
        closed = true
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw fail("cannot replace the file: \(reason)")
        }
        let folder = open(directory, O_RDONLY)
        if folder >= 0 { fsync(folder); close(folder) }
    }
}

extension ModelFile {
    /// The temporary file `write(to:)` fills before renaming it to `path`: hidden, beside it,
    /// named after the writing process (`dir/.name.partial-PID`).
    static func partialPath(of path: String, processID: pid_t) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".partial-\(processID)"
    }

    /// Refuses, before any work, a `path` that `write(to:)` could not write: a folder that does
    /// not exist, is read-only or not this user's to write, or a path that names a folder. It
    /// creates and removes the temporary file a write would make beside it.
    ///
    /// ```swift
    /// try ModelFile.checkWritable("/mnt/ro/live.safetensors")   // IOError: "cannot be written: ... Read-only file system"
    /// ```
    public static func checkWritable(_ path: String) throws(IOError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw IOError.modelFile(path: path, problem: "is a folder, not a file")
        }
        let probe = partialPath(of: path, processID: getpid())
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            throw IOError.modelFile(path: path, problem: "cannot be written: no file can be made in \(folder) (\(reason))")
        }
        close(descriptor)
        unlink(probe)
    }

    /// Removes the temporary files of `write(to: path)` left by writers that no longer run (a
    /// run killed while writing); those of running processes, this one included, are kept.
    /// Returns the paths removed.
    ///
    /// ```swift
    /// ModelFile.removeStalePartials(of: "live.safetensors")   // [".../.live.safetensors.partial-4711"]
    /// ```
    @discardableResult
    public static func removeStalePartials(of path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let prefix = "." + url.lastPathComponent + ".partial-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix(prefix) {
            guard let processID = pid_t(name.dropFirst(prefix.count)), processID > 0, processID != getpid() else { continue }
            // kill(pid, 0) delivers nothing: it says whether the process exists (EPERM: it does, as another user's).
            if kill(processID, 0) == 0 || errno == EPERM { continue }
            let stale = directory + "/" + name
            if unlink(stale) == 0 { removed.append(stale) }
        }
        return removed
    }

    /// The elements of stored tensor `name` as `T`, whose size must be its dtype's (e.g.
    /// `Int8` for I8, `Float` for F32); a missing tensor or another dtype throws naming it.
    ///
    /// ```swift
    /// let codes = try file.values("e1.weight", as: Int8.self, dtype: .int8)
    /// ```
    public func values<T: BitwiseCopyable>(_ name: String, as type: T.Type, dtype: DType) throws -> [T] {
        precondition(MemoryLayout<T>.stride == dtype.byteSize, "\(T.self) does not hold \(dtype) elements")
        guard let stored = tensors[name] else { throw IOError.modelFile(path: path, problem: "has no tensor \(name)") }
        guard stored.dtype == dtype else {
            throw IOError.modelFile(path: path, problem: "stores \(name) as \(stored.dtype) \(stored.shape), but it must be \(dtype)")
        }
        let count = stored.byteCount / dtype.byteSize
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + stored.offset)..<(dataStart + stored.offset + stored.byteCount)]))
            }
            initialized = count
        }
    }

    /// The raw little-endian bytes of stored tensor `name` (any dtype).
    public func bytes(_ name: String) throws -> [UInt8] {
        guard let stored = tensors[name] else { throw IOError.modelFile(path: path, problem: "has no tensor \(name)") }
        return data.withUnsafeBytes { raw in Array(raw[(dataStart + stored.offset)..<(dataStart + stored.offset + stored.byteCount)]) }
    }

    /// Writes arrays of any dtype (e.g. int8 codes and int32 biases) as `write(to:metadata:tensors:)`
    /// does: same layout, format version and checksum. `bytes` holds each array's elements, little-endian.
    public static func write(to path: String, metadata: [String: String],
                             arrays: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])]) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        var memory: [UnsafeMutableRawPointer] = []
        defer { for block in memory { block.deallocate() } }
        for (name, dtype, shape, bytes) in arrays {
            let dims: Shape
            do { dims = try Shape(shape) } catch { throw IOError.modelFile(path: path, problem: "cannot store \(name) with shape \(shape): \(error)") }
            precondition(bytes.count == dims.count * dtype.byteSize, "\(name): \(bytes.count) bytes for \(dtype) \(shape)")
            let block = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
            memory.append(block)
            bytes.withUnsafeBytes { block.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            tensors.append((name, Tensor(data: block, shape: dims, dtype: dtype, name: name)))
        }
        try write(to: path, metadata: metadata, tensors: tensors)
    }

    /// The header's meaning as canonical text (metadata but the checksum, and every tensor's
    /// name, type, shape and byte range, sorted), so that the checksum covers the header too.
    static func describedContents(metadata: [String: String], tensors: [(String, DType, [Int], Int, Int)]) -> String {
        var text = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != "foresight.checksum" { text += "\(key)=\(value)\n" }
        for (name, dtype, shape, offset, count) in tensors.sorted(by: { $0.0 < $1.0 }) {
            text += "\(name):\(dtype.safetensorsName)\(shape)@\(offset)+\(count)\n"
        }
        return text
    }
}

/// 64-bit FNV-1a over bytes, fed in pieces.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    mutating func add(_ text: String) {
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }
}
