//! A WASI command plugin written against a tarmac:check version this host does not
//! support (0.2.0): it must be refused at load, naming both versions.
const std = @import("std");

pub fn main(init: std.process.Init) !void {
    var buf: [1024]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(init.io, &buf);
    try stdout.interface.writeAll(
        \\{"interface":"tarmac:check@0.2.0","ok":{"id":"test.next-major","name":"next","version":"0","description":"from the future","scope":"node","requirements":{},"severity":"high"}}
    );
    try stdout.interface.flush();
}
