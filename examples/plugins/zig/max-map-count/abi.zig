//! The tarmac JSON ABI (PLUGINS.md, "The JSON ABI"): the request read from stdin, the
//! answer written to stdout, and stderr as the log. Field names are the WIT world's.
const std = @import("std");

pub const interface = "tarmac:check@0.1.0";

pub const Request = struct {
    call: []const u8,
    interface: ?[]const u8 = null,
    config: ?std.json.Value = null,
    node: ?NodeFacts = null,
    nodes: ?[]NodeFacts = null,
};

/// The fields this plugin reads; std.json skips the others.
pub const NodeFacts = struct {
    name: []const u8,
    @"kernel-release": []const u8 = "",
    sysctls: []Sysctl = &.{},
};

pub const Sysctl = struct {
    name: []const u8,
    value: ?[]const u8 = null,
};

pub const Requirements = struct {
    files: []const []const u8 = &.{},
    sysctls: []const []const u8 = &.{},
    commands: []const struct { name: []const u8, argv: []const []const u8 } = &.{},
};

pub const Metadata = struct {
    id: []const u8,
    name: []const u8,
    version: []const u8,
    description: []const u8,
    scope: []const u8,
    requirements: Requirements,
};

pub const Detail = struct {
    key: []const u8,
    value: std.json.Value,
};

pub const Finding = struct {
    check: []const u8,
    node: ?[]const u8,
    status: []const u8,
    message: []const u8,
    remediation: []const u8,
    details: []const Detail = &.{},
};

/// stdout for the one answer.
pub const Out = struct {
    io: std.Io,

    pub fn init(io: std.Io) Out {
        return .{ .io = io };
    }

    /// Writes `value` as the answer: `.{ .ok = ... }` or `.{ .@"error" = "..." }`.
    pub fn answer(self: Out, value: anytype) !void {
        var buf: [4096]u8 = undefined;
        var stdout = std.Io.File.stdout().writerStreaming(self.io, &buf);
        try stdout.interface.print("{f}\n", .{std.json.fmt(value, .{})});
        try stdout.interface.flush();
    }

    /// No answer: the request itself was broken. The nonzero exit and stderr say why.
    pub fn fail(self: Out, comptime format: []const u8, args: anytype) !void {
        _ = self;
        std.log.err(format, args);
        std.process.exit(2);
    }
};

/// std.log to stderr as "level: message" lines, the levels tarmac reads.
pub fn log(
    comptime level: std.log.Level,
    comptime scope: @EnumLiteral(),
    comptime format: []const u8,
    args: anytype,
) void {
    _ = scope;
    const prefix = switch (level) {
        .debug => "debug: ",
        .info => "info: ",
        .warn => "warn: ",
        .err => "error: ",
    };
    var buf: [1024]u8 = undefined;
    const line = std.fmt.bufPrint(&buf, prefix ++ format ++ "\n", args) catch return;
    std.debug.print("{s}", .{line});
}
