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

func TestMaxParkedBoundsATenantsParkedMemory(t *testing.T) {
	for mem, want := range map[uint64]int{128 << 20: 16, 1 << 20: 256, 4 << 30: 4, 512 << 20: 4, 64 << 20: 32} {
		if got := maxParked(mem); got != want {
			t.Errorf("maxParked(%d MiB) = %d, want %d", mem>>20, got, want)
		}
	}
}
