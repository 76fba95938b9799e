package command

import "testing"

func TestCheckLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8420", true},
		{"localhost:0", true},
		{"[::1]:8420", true},
		{"127.1.2.3:1", true},
		{"0.0.0.0:8420", false},
		{":8420", false}, // every interface
		{"192.168.1.5:8420", false},
		{"example.com:80", false},
		{"no-port", false},
	} {
		if err := checkLoopback(c.addr); (err == nil) != c.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}
}

func TestMachineMemoryIsReadFromTheCgroupOrMeminfo(t *testing.T) {
	n, from, err := machineMemory()
	if err != nil {
		t.Skipf("no memory figure on this machine: %v", err)
	}
	if n < 64<<20 {
		t.Errorf("machineMemory() = %d bytes from %s: implausibly small", n, from)
	}
}
