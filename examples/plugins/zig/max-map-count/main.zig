//! site.max-map-count: a node-scoped tarmac plugin (WASI command, JSON ABI). The sysctl
//! `vm.max_map_count` must be at least `min` (default 262144): Elasticsearch, OpenSearch
//! and other mmap-heavy workloads refuse to start below it, and kubelet cannot raise a
//! host sysctl for a pod. Settings: {"min": N, "severity": "fail"|"warn"}.
const std = @import("std");
const abi = @import("abi.zig");

const id = "site.max-map-count";
const sysctl_name = "vm.max_map_count";
const default_min: u64 = 262144;

const Settings = struct {
    min: u64 = default_min,
    severity: []const u8 = "fail",
};

pub fn main(init: std.process.Init) !void {
    const gpa = init.arena.allocator();
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(init.io, &in_buf);
    const input = try stdin.interface.allocRemaining(gpa, .limited(64 << 20));
    var out = abi.Out.init(init.io);
    const request = std.json.parseFromSliceLeaky(abi.Request, gpa, input, .{
        .ignore_unknown_fields = true,
    }) catch |err| return out.fail("the request does not parse: {t}", .{err});

    if (std.mem.eql(u8, request.call, "describe")) {
        return out.answer(.{ .interface = abi.interface, .ok = abi.Metadata{
            .id = id,
            .name = "vm.max_map_count is high enough",
            .version = "1.0.0",
            .description = "The sysctl vm.max_map_count is at least the setting min (default 262144), as Elasticsearch and OpenSearch pods need.",
            .scope = "node",
            .requirements = .{ .sysctls = &.{sysctl_name} },
        } });
    }
    const settings = parseSettings(gpa, request.config) catch |err| {
        return out.answer(.{ .@"error" = switch (err) {
            error.BadSeverity => "settings: severity must be \"fail\" or \"warn\"",
            else => "settings: expected {\"min\": N, \"severity\": \"fail\"|\"warn\"}, all optional",
        } });
    };
    if (std.mem.eql(u8, request.call, "validate-config")) {
        return out.answer(.{ .ok = null });
    }
    if (std.mem.eql(u8, request.call, "check-node")) {
        const node = request.node orelse return out.answer(.{ .@"error" = "check-node without a node" });
        const finding = try check(gpa, node, settings);
        return out.answer(.{ .ok = &[_]abi.Finding{finding} });
    }
    return out.answer(.{ .@"error" = "unexpected call" });
}

fn parseSettings(gpa: std.mem.Allocator, config: ?std.json.Value) !Settings {
    const value = config orelse return .{};
    const settings = try std.json.parseFromValueLeaky(Settings, gpa, value, .{});
    if (!std.mem.eql(u8, settings.severity, "fail") and !std.mem.eql(u8, settings.severity, "warn")) {
        return error.BadSeverity;
    }
    return settings;
}

fn check(gpa: std.mem.Allocator, node: abi.NodeFacts, settings: Settings) !abi.Finding {
    var finding = abi.Finding{ .check = id, .node = node.name, .status = "pass", .message = "", .remediation = "" };
    const raw = for (node.sysctls) |s| {
        if (std.mem.eql(u8, s.name, sysctl_name)) break s.value;
    } else null;
    const text = raw orelse {
        finding.status = "error";
        finding.message = "vm.max_map_count was not gathered on this node";
        return finding;
    };
    const value = std.fmt.parseInt(u64, std.mem.trim(u8, text, " \n"), 10) catch {
        finding.status = "error";
        finding.message = try std.fmt.allocPrint(gpa, "vm.max_map_count is {s}, not a number", .{text});
        return finding;
    };
    if (value >= settings.min) {
        finding.message = try std.fmt.allocPrint(gpa, "vm.max_map_count is {d} (at least {d})", .{ value, settings.min });
    } else {
        finding.status = settings.severity;
        finding.message = try std.fmt.allocPrint(gpa, "vm.max_map_count is {d}, below {d}", .{ value, settings.min });
        finding.remediation = try std.fmt.allocPrint(gpa, "sysctl -w vm.max_map_count={d}, and persist it in /etc/sysctl.d/", .{settings.min});
    }
    finding.details = try gpa.dupe(abi.Detail, &.{
        .{ .key = "value", .value = .{ .integer = @intCast(value) } },
        .{ .key = "min", .value = .{ .integer = @intCast(settings.min) } },
    });
    std.log.debug("{s}: vm.max_map_count {d}", .{ node.name, value });
    return finding;
}

pub const std_options: std.Options = .{ .log_level = .debug, .logFn = abi.log };
