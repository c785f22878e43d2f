package controller

import (
	"net/http/httptest"
	"testing"
)

func TestActionsOnlyFromThisHost(t *testing.T) {
	cases := []struct {
		remote string
		header string
		want   bool
	}{
		{"127.0.0.1:5000", "", true},
		{"[::1]:5000", "", true},
		{"[::ffff:127.0.0.1]:5000", "", true},
		{"192.0.2.7:5000", "", false},
		{"10.0.0.2:5000", "", false},
		{"127.0.0.1:5000", "X-Forwarded-For", false}, // a proxy on this host relays the world
		{"127.0.0.1:5000", "Forwarded", false},
		{"garbage", "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "/stacks/shop/retry", nil)
		r.RemoteAddr = tc.remote
		if tc.header != "" {
			r.Header.Set(tc.header, "203.0.113.9")
		}
		if got := local(r); got != tc.want {
			t.Errorf("local(%s, %q) = %v, want %v", tc.remote, tc.header, got, tc.want)
		}
	}
}
