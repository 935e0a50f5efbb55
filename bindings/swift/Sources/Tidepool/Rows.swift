// Results: columns, rows with typed access by index or name, whole result sets, and rows
// streamed page by page as an AsyncSequence.

import TidepoolFFI

/// A result column: its name and, for a table column, its declared type (`INTEGER`, `TEXT`).
public struct Column: Equatable, Hashable, Sendable {
    public let name: String
    public let declaredType: String?

    init(_ c: TidepoolFFI.Column) {
        name = c.name
        declaredType = c.decltype
    }
}

/// A result's columns, with a lookup by name shared by all its rows.
final class ColumnLayout: Sendable {
    let columns: [Column]
    let indexByName: [String: Int]

    init(_ columns: [TidepoolFFI.Column]) {
        self.columns = columns.map(Column.init)
        var byName: [String: Int] = [:]
        // The first column of a name wins, as in SQLite's own lookups.
        for (i, c) in self.columns.enumerated() where byName[c.name] == nil {
            byName[c.name] = i
        }
        indexByName = byName
    }
}

/// One row of a result.
public struct Row: Sendable, RandomAccessCollection {
    let layout: ColumnLayout
    /// The row's values, in column order.
    public let values: [Value]

    init(_ layout: ColumnLayout, _ values: [TidepoolFFI.Value]) {
        self.layout = layout
        self.values = values.map(Value.init)
    }

    public var columns: [Column] { layout.columns }
    public var startIndex: Int { values.startIndex }
    public var endIndex: Int { values.endIndex }
    public subscript(position: Int) -> Value { values[position] }

    /// The value of the column named `name`, or nil if there is no such column.
    public subscript(name: String) -> Value? {
        layout.indexByName[name].map { values[$0] }
    }

    /// Column `index` as `T`; `TidepoolError.decode` with `COLUMN_NOT_FOUND` or `TYPE_MISMATCH`.
    public func get<T: ValueConvertible>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard values.indices.contains(index) else {
            throw TidepoolError.decode(
                TidepoolError.Code.columnNotFound, "no column \(index) (the row has \(values.count))")
        }
        return try T(tidepoolValue: values[index])
    }

    /// The column named `name` as `T`; `TidepoolError.decode` with `COLUMN_NOT_FOUND` or
    /// `TYPE_MISMATCH`.
    public func get<T: ValueConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let index = layout.indexByName[name] else {
            throw TidepoolError.decode(TidepoolError.Code.columnNotFound, "no column named \(name)")
        }
        return try T(tidepoolValue: values[index])
    }
}

/// A query's rows, read whole, and what the statement changed (an `INSERT ... RETURNING`).
public struct Rows: Sendable, RandomAccessCollection {
    public let columns: [Column]
    public let rows: [Row]
    /// Rows the statement inserted, updated or deleted.
    public let rowsAffected: Int
    /// The rowid of the last inserted row, when there is one.
    public let lastInsertRowid: Int64?

    init(
        columns: [TidepoolFFI.Column], rows: [[TidepoolFFI.Value]], rowsAffected: UInt64 = 0,
        lastInsertRowid: Int64? = nil
    ) {
        let layout = ColumnLayout(columns)
        self.columns = layout.columns
        self.rows = rows.map { Row(layout, $0) }
        self.rowsAffected = Int(clamping: rowsAffected)
        self.lastInsertRowid = lastInsertRowid
    }

    init(_ r: TidepoolFFI.Rows) {
        self.init(columns: r.columns, rows: r.rows, rowsAffected: r.rowsAffected, lastInsertRowid: r.lastInsertRowid)
    }

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> Row { rows[position] }
}

/// The outcome of a statement that is not read for its rows.
public struct ExecuteResult: Equatable, Hashable, Sendable {
    /// Rows changed by an INSERT, UPDATE or DELETE.
    public let rowsAffected: Int
    /// The rowid of the last inserted row, when there is one.
    public let lastInsertRowid: Int64?

    init(_ r: TidepoolFFI.ExecuteResult) {
        rowsAffected = Int(clamping: r.rowsAffected)
        lastInsertRowid = r.lastInsertRowid
    }
}

/// One statement's result in a batch.
public struct ResultSet: Sendable {
    public let rows: Rows
    public let rowsAffected: Int
    public let lastInsertRowid: Int64?

    init(_ r: TidepoolFFI.ResultSet) {
        rows = Rows(columns: r.columns, rows: r.rows)
        rowsAffected = Int(clamping: r.rowsAffected)
        lastInsertRowid = r.lastInsertRowid
    }
}

/// Rows as they arrive, a page at a time, so a large result never sits whole in memory:
///
/// ```swift
/// for try await row in try await conn.stream("SELECT * FROM big") { ... }
/// ```
///
/// The connection is busy until the rows are read to the end or `finish()` is called (or the
/// stream is released).
public struct RowStream: AsyncSequence, Sendable {
    public typealias Element = Row

    let cursor: TidepoolFFI.RowCursor
    let layout: ColumnLayout
    let pageSize: UInt32

    init(_ cursor: TidepoolFFI.RowCursor, pageSize: Int) {
        self.cursor = cursor
        layout = ColumnLayout(cursor.columns())
        self.pageSize = UInt32(clamping: Swift.max(1, pageSize))
    }

    public var columns: [Column] { layout.columns }

    /// Stops reading and frees the connection.
    public func finish() async {
        await cursor.finish()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let stream: RowStream
        var page: [[TidepoolFFI.Value]] = []
        var position = 0
        var done = false

        public mutating func next() async throws -> Row? {
            if position == page.count {
                if done { return nil }
                let (cursor, size) = (stream.cursor, stream.pageSize)
                page = try await ffi { try await cursor.nextPage(maxRows: size) }
                position = 0
                if page.isEmpty {
                    done = true
                    return nil
                }
            }
            defer { position += 1 }
            return Row(stream.layout, page[position])
        }
    }
}
