package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	dir := keyDir(t, "")
	tests := []struct {
		name     string
		yaml     string // after base, from line 7
		want     []string
		wantErr  []string
		wantWarn []string
	}{
		{name: "default trusts no proxy", yaml: "", want: nil},
		{name: "empty list", yaml: "trusted_proxies: []\n", want: nil},
		{
			name: "addresses and networks, normalised",
			yaml: `trusted_proxies: ["10.0.0.0/8", "127.0.0.1", "::1", "2001:DB8::/32", "::ffff:192.0.2.7", "::ffff:172.16.0.0/108", 192.168.1.1/32]` + "\n",
			want: []string{"10.0.0.0/8", "127.0.0.1", "::1", "2001:db8::/32", "192.0.2.7", "172.16.0.0/12", "192.168.1.1"},
		},
		{
			name:     "everyone is trusted, with a warning",
			yaml:     "trusted_proxies:\n  - 0.0.0.0/0\n",
			want:     []string{"0.0.0.0/0"},
			wantWarn: []string{`t.yaml:8: trusted_proxies[0]: 0.0.0.0/0 trusts every address: any client can then choose the address the access log records for it with X-Forwarded-For`},
		},
		{
			name: "bad entries, all reported",
			yaml: `trusted_proxies:
  - localhost
  - 10.0.0.1/8
  - 10.0.0.0/33
  - ""
  - "fe80::1%eth0"
  - " 10.0.0.2"
  - 127.0.0.1
  - 127.0.0.1/32
  - "::ffff:127.0.0.1"
`,
			wantErr: []string{
				`t.yaml:8: trusted_proxies[0]: "localhost" is not an IP address or a CIDR network (like 192.0.2.1, 10.0.0.0/8 or 2001:db8::/32); host names are not accepted`,
				`t.yaml:9: trusted_proxies[1]: "10.0.0.1/8" has bits set after the /8 prefix: write 10.0.0.0/8 for the network, or 10.0.0.1 for the one address`,
				`t.yaml:10: trusted_proxies[2]: "10.0.0.0/33" is not an IP address or a CIDR network (like 192.0.2.1, 10.0.0.0/8 or 2001:db8::/32)`,
				`t.yaml:11: trusted_proxies[3]: empty entry; give an IP address or a CIDR network`,
				`t.yaml:12: trusted_proxies[4]: "fe80::1%eth0" has an IPv6 zone; give the address without %zone`,
				`t.yaml:13: trusted_proxies[5]: " 10.0.0.2" is not an IP address or a CIDR network (like 192.0.2.1, 10.0.0.0/8 or 2001:db8::/32)`,
				`t.yaml:15: trusted_proxies[7]: "127.0.0.1/32" repeats 127.0.0.1 (first at line 14)`,
				`t.yaml:16: trusted_proxies[8]: "::ffff:127.0.0.1" repeats 127.0.0.1 (first at line 14)`,
			},
		},
		{
			name:    "not a list",
			yaml:    "trusted_proxies: 10.0.0.1\n",
			wantErr: []string{`t.yaml:7: trusted_proxies: must be a list like [a, b] or "- item" lines, got "10.0.0.1"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(base+tc.yaml), dir, nil)
			if tc.wantErr != nil {
				if err == nil || err.Error() != strings.Join(tc.wantErr, "\n") {
					t.Fatalf("errors:\n%v\nwant:\n%s", err, strings.Join(tc.wantErr, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.TrustedProxies, tc.want) {
				t.Fatalf("TrustedProxies = %q, want %q", s.TrustedProxies, tc.want)
			}
			if !reflect.DeepEqual(s.Warnings, tc.wantWarn) {
				t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(s.Warnings, "\n"), strings.Join(tc.wantWarn, "\n"))
			}
		})
	}
}
