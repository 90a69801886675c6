//! site.{{name}}: a tarmac plugin check, a WASI command module. tarmac writes one JSON
//! request on stdin and reads one JSON answer from stdout (PLUGINS.md, "The JSON ABI");
//! stderr is the plugin's log. Edit `check`.
const std = @import("std");

const id = "site.{{name}}";

const Request = struct {
    call: []const u8,
    config: ?std.json.Value = null,
    node: ?NodeFacts = null, // check-node
};

/// The fields this check reads; the others are skipped.
const NodeFacts = struct {
    name: []const u8,
    cpus: u32,
};

const Finding = struct {
    check: []const u8,
    node: ?[]const u8,
    status: []const u8, // pass, skip, warn, fail, error
    message: []const u8,
    remediation: []const u8,
};

pub fn main(init: std.process.Init) !void {
    const gpa = init.arena.allocator();
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(init.io, &in_buf);
    const input = try stdin.interface.allocRemaining(gpa, .limited(64 << 20));
    const request = try std.json.parseFromSliceLeaky(Request, gpa, input, .{ .ignore_unknown_fields = true });
    var buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(init.io, &buf);
    const out = &stdout.interface;
    if (std.mem.eql(u8, request.call, "describe")) {
        try out.print("{f}", .{std.json.fmt(.{ .interface = "tarmac:check@0.1.0", .ok = .{
            .id = id,
            .name = "{{name}}",
            .version = "0.1.0",
            .description = "Every node has at least 2 CPUs.",
            .scope = "node", // or "cluster": one check-cluster call with every node
            .requirements = .{ .files = &[_][]const u8{}, .sysctls = &[_][]const u8{} },
        } }, .{})});
    } else if (std.mem.eql(u8, request.call, "validate-config")) {
        try out.writeAll("{\"ok\":null}");
    } else if (std.mem.eql(u8, request.call, "check-node")) {
        const node = request.node.?;
        const ok = node.cpus >= 2;
        const finding = Finding{
            .check = id,
            .node = node.name,
            .status = if (ok) "pass" else "fail",
            .message = try std.fmt.allocPrint(gpa, "{d} CPUs (need at least 2)", .{node.cpus}),
            .remediation = if (ok) "" else "add CPUs",
        };
        try out.print("{f}", .{std.json.fmt(.{ .ok = &[_]Finding{finding} }, .{})});
    } else {
        try out.writeAll("{\"error\":\"unexpected call\"}");
    }
    try out.flush();
}
