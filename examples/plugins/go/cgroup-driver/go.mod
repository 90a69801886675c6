module example.invalid/tarmac/cgroup-driver

go 1.27
