//! A WASI command plugin that misbehaves on purpose, to prove the command ABI's sandbox:
//! the setting `fault` picks what check-node does. Built by harness/tests/plugin_wasi.rs
//! with the Zig of examples/plugins/wasi-tools.
const std = @import("std");

const Request = struct {
    call: []const u8,
    config: ?struct { fault: []const u8 = "none" } = null,
    node: ?struct { name: []const u8 } = null,
};

pub fn main(init: std.process.Init) !void {
    const gpa = init.arena.allocator();
    const io = init.io;
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(io, &in_buf);
    const input = try stdin.interface.allocRemaining(gpa, .limited(64 << 20));
    const request = try std.json.parseFromSliceLeaky(Request, gpa, input, .{ .ignore_unknown_fields = true });
    var buf: [1 << 16]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(io, &buf);
    const out = &stdout.interface;
    defer out.flush() catch {};

    if (std.mem.eql(u8, request.call, "describe")) {
        try out.writeAll(
            \\{"interface":"tarmac:check@0.1.0","ok":{"id":"test.faulty-wasi","name":"faulty","version":"0","description":"misbehaves","scope":"node","requirements":{}}}
        );
        return;
    }
    const fault = if (request.config) |c| c.fault else "none";
    if (std.mem.eql(u8, request.call, "validate-config")) {
        try out.writeAll(if (std.mem.eql(u8, fault, "no-such-fault")) "{\"error\":\"unknown fault\"}" else "{\"ok\":null}");
        return;
    }
    const node = request.node.?.name;
    if (std.mem.eql(u8, fault, "loop")) {
        var x: u64 = 0;
        while (true) {
            x +%= 1;
            std.mem.doNotOptimizeAway(x);
        }
    } else if (std.mem.eql(u8, fault, "sleep")) {
        // Ten seconds, then a normal answer: only a deadline that also ends a blocked WASI
        // call turns this into a timeout.
        try io.sleep(.fromSeconds(10), .awake);
        try out.print("{f}", .{std.json.fmt(.{ .ok = &.{.{ .check = "test.faulty-wasi", .node = node, .status = "pass", .message = "slept", .remediation = "" }} }, .{})});
    } else if (std.mem.eql(u8, fault, "alloc")) {
        var kept: usize = 0;
        while (true) {
            const block = try std.heap.page_allocator.alloc(u8, 1 << 20);
            @memset(block, 1);
            kept += block.len;
        }
    } else if (std.mem.eql(u8, fault, "flood")) {
        const chunk: [65536]u8 = @splat('x');
        while (true) try out.writeAll(&chunk);
    } else if (std.mem.eql(u8, fault, "many-values")) {
        // 8 MB of `,0`: within the stdout cap, but four million JSON values.
        try out.writeAll("{\"ok\":[{\"check\":\"test.faulty-wasi\",\"status\":\"pass\",\"message\":\"\",\"remediation\":\"\",\"details\":[{\"key\":\"k\",\"value\":[0");
        var chunk: [65536]u8 = undefined;
        for (&chunk, 0..) |*b, i| b.* = if (i % 2 == 0) ',' else '0';
        for (0..128) |_| try out.writeAll(&chunk);
        try out.writeAll("]}]}]}");
    } else if (std.mem.eql(u8, fault, "garbage")) {
        try out.writeAll("this is not json");
    } else if (std.mem.eql(u8, fault, "exit")) {
        std.debug.print("error: giving up on purpose\n", .{});
        std.process.exit(3);
    } else if (std.mem.eql(u8, fault, "foreign-node")) {
        try out.writeAll(
            \\{"ok":[{"check":"test.faulty-wasi","node":"not-a-node-of-this-run","status":"pass","message":"","remediation":""}]}
        );
    } else if (std.mem.eql(u8, fault, "too-many")) {
        try out.writeAll("{\"ok\":[");
        for (0..100000) |i| {
            if (i > 0) try out.writeAll(",");
            try out.writeAll("{\"check\":\"test.faulty-wasi\",\"status\":\"pass\",\"message\":\"\",\"remediation\":\"\"}");
        }
        try out.writeAll("]}");
    } else if (std.mem.eql(u8, fault, "escape")) {
        const read = if (std.Io.Dir.cwd().openFile(io, "/etc/hostname", .{})) |_| "succeeded" else |_| "failed";
        const env = init.environ_map.count();
        const message = try std.fmt.allocPrint(gpa, "file read: {s}, {d} env vars visible", .{ read, env });
        try out.print("{f}", .{std.json.fmt(.{ .ok = &.{.{ .check = "test.faulty-wasi", .node = node, .status = "pass", .message = message, .remediation = "" }} }, .{})});
    } else {
        try out.print("{f}", .{std.json.fmt(.{ .ok = &.{.{ .check = "test.faulty-wasi", .node = node, .status = "pass", .message = "fine", .remediation = "" }} }, .{})});
    }
}
