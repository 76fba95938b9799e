package command

import "testing"

func TestCheckLoopback(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8420", false, true},
		{"localhost:0", false, true},
		{"[::1]:8420", false, true},
		{"127.1.2.3:1", false, true},
		{"0.0.0.0:8420", false, false},
		{":8420", false, false}, // every interface
		{"192.168.1.5:8420", false, false},
		{"example.com:80", false, false},
		{"0.0.0.0:8420", true, true},
		{"no-port", true, false},
	} {
		if err := checkLoopback(c.addr, c.remote); (err == nil) != c.ok {
			t.Errorf("checkLoopback(%q, %v) = %v, want ok=%v", c.addr, c.remote, err, c.ok)
		}
	}
}
