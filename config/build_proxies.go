package config

// The trusted_proxies entries: addresses and networks whose
// X-Forwarded-For the server believes.

import (
	"fmt"
	"net/netip"
	"strings"
)

// trustedProxies validates and normalises the trusted_proxies entries (see
// Snapshot.TrustedProxies); nil when there are none.
func (l *loader) trustedProxies(in []string) []string {
	var out []string
	seen := map[string]string{}
	for i, raw := range in {
		path := fmt.Sprintf("trusted_proxies[%d]", i)
		norm, bits, ok := l.proxy(raw, path)
		if !ok {
			continue
		}
		if first, dup := seen[norm]; dup {
			l.errorf(path, "%q repeats %s (first at line %d)", raw, norm, l.line(first))
			continue
		}
		seen[norm] = path
		if bits == 0 {
			l.warnf(path, "%s trusts every address: any client can then choose the address the access log records for it with X-Forwarded-For", norm)
		}
		out = append(out, norm)
	}
	return out
}

// proxy parses one trusted_proxies entry into its normal form and prefix
// length.
func (l *loader) proxy(raw, path string) (string, int, bool) {
	const like = "like 192.0.2.1, 10.0.0.0/8 or 2001:db8::/32"
	if raw == "" {
		l.errorf(path, "empty entry; give an IP address or a CIDR network")
		return "", 0, false
	}
	if strings.Contains(raw, "%") {
		l.errorf(path, "%q has an IPv6 zone; give the address without %%zone", raw)
		return "", 0, false
	}
	var p netip.Prefix
	if strings.Contains(raw, "/") {
		var err error
		if p, err = netip.ParsePrefix(raw); err != nil {
			l.errorf(path, "%q is not an IP address or a CIDR network (%s)", raw, like)
			return "", 0, false
		}
		if p.Masked() != p {
			l.errorf(path, "%q has bits set after the /%d prefix: write %s for the network, or %s for the one address", raw, p.Bits(), p.Masked(), p.Addr())
			return "", 0, false
		}
	} else {
		a, err := netip.ParseAddr(raw)
		if err != nil {
			hint := ""
			if hostNameRe.MatchString(raw) {
				hint = "; host names are not accepted"
			}
			l.errorf(path, "%q is not an IP address or a CIDR network (%s)%s", raw, like, hint)
			return "", 0, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// IPv4-mapped IPv6 (::ffff:10.0.0.1) is the IPv4 address it maps: gin
	// would otherwise read "::ffff:10.0.0.1" as IPv4 and append /32.
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if p.IsSingleIP() {
		return p.Addr().String(), p.Bits(), true
	}
	return p.String(), p.Bits(), true
}
