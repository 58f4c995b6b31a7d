/// The element types of the safetensors format, spelled as in its header (`"F32"`, `"I64"`, …).
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case u16 = "U16", i16 = "I16", f16 = "F16", bf16 = "BF16"
    case u32 = "U32", i32 = "I32", f32 = "F32"
    case u64 = "U64", i64 = "I64", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// The reference implementation's order of element types; its writer puts higher ranks first.
    var writeRank: Int {
        switch self {
        case .bool: return 0
        case .u8: return 1
        case .i8: return 2
        case .i16: return 3
        case .u16: return 4
        case .f16: return 5
        case .bf16: return 6
        case .i32: return 7
        case .u32: return 8
        case .f32: return 9
        case .f64: return 10
        case .i64: return 11
        case .u64: return 12
        }
    }
}

/// Element types that convert to and from a `SafeTensor`'s little-endian bytes: Float, Double,
/// Int32, Int64, UInt8, UInt64.
public protocol SafeTensorElement {
    /// The matching safetensors dtype.
    static var dtype: DType { get }
    /// An unsigned or signed integer of the same size, for the byte order conversion.
    associatedtype Bits: FixedWidthInteger
    /// The value's bits in little-endian byte order.
    var littleEndianBits: Bits { get }
    /// The value from bits in little-endian byte order.
    init(littleEndianBits: Bits)
}

/// One tensor of a safetensors file: an element type, a shape and the raw little-endian bytes.
///
/// Typed access goes through `init(_:shape:)` and `values(as:)`, which check the element type.
///
///     let w = SafeTensor([1, 2, 3, 4] as [Float], shape: [2, 2])
///     let step = SafeTensor([Int64(1200)], shape: [])
///     let back: [Float] = try w.values(as: Float.self)
public struct SafeTensor: Equatable, Sendable {
    public let dtype: DType
    public let shape: [Int]
    /// `shape.reduce(1, *) * dtype.size` bytes, little-endian.
    public let bytes: [UInt8]

    /// A tensor from raw little-endian bytes; their count must match the shape and dtype.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(Tensor.elementCount(shape) * dtype.size == bytes.count,
                     "SafeTensor: \(bytes.count) bytes do not fit \(dtype.rawValue) \(shape)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A tensor holding `values` (row-major) with `shape`.
    public init<T: SafeTensorElement>(_ values: [T], shape: [Int]) {
        precondition(Tensor.elementCount(shape) == values.count,
                     "SafeTensor: \(values.count) values do not fill shape \(shape)")
        var bytes: [UInt8]
        if isLittleEndianHost {
            bytes = values.withUnsafeBytes { Array($0) }
        } else {
            bytes = [UInt8](repeating: 0, count: values.count * T.dtype.size)
            bytes.withUnsafeMutableBytes { dst in
                for (i, v) in values.enumerated() {
                    dst.storeBytes(of: v.littleEndianBits, toByteOffset: i * T.dtype.size, as: T.Bits.self)
                }
            }
        }
        self.init(dtype: T.dtype, shape: shape, bytes: bytes)
    }

    /// A float tensor from a `Tensor`.
    public init(_ tensor: Tensor) {
        self.init(tensor.storage, shape: tensor.shape)
    }

    /// The number of elements.
    public var count: Int { Tensor.elementCount(shape) }

    /// The elements as `T`; throws if the dtype is not `T`'s.
    public func values<T: SafeTensorElement>(as type: T.Type) throws -> [T] {
        guard dtype == T.dtype else {
            throw SafeTensorTypeError(expected: T.dtype, found: dtype)
        }
        let n = count
        return bytes.withUnsafeBytes { src in
            if isLittleEndianHost {
                return [T](unsafeUninitializedCapacity: n) { dst, initialized in
                    if n > 0 { UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: src.count) }
                    initialized = n
                }
            }
            return (0..<n).map { i in
                T(littleEndianBits: src.loadUnaligned(fromByteOffset: i * T.dtype.size, as: T.Bits.self))
            }
        }
    }

    /// Copies the F32 elements into `destination` (exactly `count` floats); throws unless the
    /// dtype is F32.
    public func copyFloats(into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard dtype == .f32 else { throw SafeTensorTypeError(expected: .f32, found: dtype) }
        precondition(destination.count == count, "SafeTensor: \(count) floats into a buffer of \(destination.count)")
        if isLittleEndianHost {
            bytes.withUnsafeBytes { src in
                if count > 0 { UnsafeMutableRawPointer(destination.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
        } else {
            for (i, x) in try values(as: Float.self).enumerated() { destination[i] = x }
        }
    }

    /// The elements as a float `Tensor`; throws unless the dtype is F32.
    public func tensor() throws -> Tensor {
        Tensor(shape: shape, try values(as: Float.self))
    }
}

/// Whether this machine stores numbers little-endian (as the file format does): then bytes copy as they are.
let isLittleEndianHost = 1.littleEndian == 1

/// A tensor had another element type than the one asked for.
public struct SafeTensorTypeError: Error, CustomStringConvertible {
    public let expected: DType
    public let found: DType
    public var description: String { "expected a \(expected.rawValue) tensor, found \(found.rawValue)" }
}

extension Float: SafeTensorElement {
    public static var dtype: DType { .f32 }
    public var littleEndianBits: UInt32 { bitPattern.littleEndian }
    public init(littleEndianBits b: UInt32) { self.init(bitPattern: UInt32(littleEndian: b)) }
}
extension Double: SafeTensorElement {
    public static var dtype: DType { .f64 }
    public var littleEndianBits: UInt64 { bitPattern.littleEndian }
    public init(littleEndianBits b: UInt64) { self.init(bitPattern: UInt64(littleEndian: b)) }
}
extension Int32: SafeTensorElement {
    public static var dtype: DType { .i32 }
    public var littleEndianBits: Int32 { littleEndian }
    public init(littleEndianBits b: Int32) { self.init(littleEndian: b) }
}
extension Int64: SafeTensorElement {
    public static var dtype: DType { .i64 }
    public var littleEndianBits: Int64 { littleEndian }
    public init(littleEndianBits b: Int64) { self.init(littleEndian: b) }
}
extension UInt8: SafeTensorElement {
    public static var dtype: DType { .u8 }
    public var littleEndianBits: UInt8 { self }
    public init(littleEndianBits b: UInt8) { self = b }
}
extension UInt64: SafeTensorElement {
    public static var dtype: DType { .u64 }
    public var littleEndianBits: UInt64 { littleEndian }
    public init(littleEndianBits b: UInt64) { self.init(littleEndian: b) }
}
