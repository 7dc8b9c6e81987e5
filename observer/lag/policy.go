package lag

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// DefaultDeniedAddresses are refused unless the operator is told otherwise: the link-local ranges, where cloud
// providers serve instance metadata and credentials (169.254.169.254), and AWS's IPv6 metadata address, which
// is not link-local.
const DefaultDeniedAddresses = "169.254.0.0/16,fe80::/10,fd00:ec2::254/128"

// AddressPolicy decides which metrics-source addresses the operator may connect to. Whoever may create a
// Consumer chooses its addresses, and the operator sends them the Consumer's credentials from its own network
// position; the policy keeps that position from being borrowed.
//
// A rule is a CIDR (10.0.0.0/8), an IP (which stands for itself alone), a host name (prometheus.example.com)
// or a host pattern (*.monitoring.svc.cluster.local: any name ending in .monitoring.svc.cluster.local).
// Deny wins over allow. An empty Allow allows every address that is not denied; a non-empty one allows an
// address whose host name matches one of its patterns or whose IP is in one of its CIDRs.
//
// CIDRs are checked against the IP actually dialed, after name resolution, so that a name resolving to a
// denied address (a DNS record someone controls, a rebinding trick) is refused before any packet is sent.
// Through an HTTP proxy (HTTPS_PROXY), the operator dials the proxy and CIDRs apply to it; the target is then
// only checked when it is an IP or by its host name.
type AddressPolicy struct {
	Allow []AddressRule
	Deny  []AddressRule
}

// AddressRule is one entry of an AddressPolicy.
type AddressRule struct {
	prefix  netip.Prefix
	host    string // exact host name, lower case
	suffix  string // for *.example.com: ".example.com"
	display string
}

func (r AddressRule) String() string { return r.display }

// ParseAddressRules reads a comma-separated list of rules; spaces around them and empty entries are ignored.
func ParseAddressRules(list string) ([]AddressRule, error) {
	var rules []AddressRule
	for _, raw := range strings.Split(list, ",") {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		r := AddressRule{display: s}
		if p, err := netip.ParsePrefix(s); err == nil {
			r.prefix = p.Masked()
		} else if a, err := netip.ParseAddr(s); err == nil {
			r.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		} else if strings.Contains(s, "/") {
			return nil, fmt.Errorf("%q is not a valid CIDR", s)
		} else if rest, ok := strings.CutPrefix(s, "*."); ok {
			if rest == "" || strings.ContainsAny(rest, "*:/") {
				return nil, fmt.Errorf("%q is not a valid host pattern (want *.example.com)", s)
			}
			r.suffix = "." + normalizeHost(rest)
		} else {
			if strings.ContainsAny(s, "*:/") {
				return nil, fmt.Errorf("%q is not a CIDR, an IP, a host name or a host pattern (*.example.com)", s)
			}
			r.host = normalizeHost(s)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// DefaultAddressPolicy denies DefaultDeniedAddresses and allows everything else.
func DefaultAddressPolicy() *AddressPolicy {
	deny, err := ParseAddressRules(DefaultDeniedAddresses)
	if err != nil {
		panic(err)
	}
	return &AddressPolicy{Deny: deny}
}

func normalizeHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func (r AddressRule) matchesHost(host string) bool {
	switch {
	case r.host != "":
		return host == r.host
	case r.suffix != "":
		return strings.HasSuffix(host, r.suffix)
	}
	return false
}

func (r AddressRule) matchesIP(ip netip.Addr) bool {
	return r.prefix.IsValid() && r.prefix.Contains(ip)
}

// AddressDeniedError is the error of an address the policy refuses.
type AddressDeniedError struct {
	// Why names the rule that refused it, or says that no allow rule took it; it is the same text for the same
	// address every time, so the condition made from it does not flap.
	Why string
}

func (e *AddressDeniedError) Error() string {
	return "address not allowed by the operator's address policy (" + e.Why + ")"
}

// checkHost decides what can be decided from the URL alone. It returns whether an allow rule names the host,
// which the dial check needs.
func (p *AddressPolicy) checkHost(u *url.URL) (hostAllowed bool, err error) {
	host := normalizeHost(u.Hostname())
	if ip, perr := netip.ParseAddr(host); perr == nil {
		return false, p.checkIP(ip.Unmap(), false)
	}
	for _, r := range p.Deny {
		if r.matchesHost(host) {
			return false, &AddressDeniedError{Why: "denied: " + r.display}
		}
	}
	for _, r := range p.Allow {
		if r.matchesHost(host) {
			return true, nil
		}
	}
	return false, nil
}

func (p *AddressPolicy) checkIP(ip netip.Addr, hostAllowed bool) error {
	// A zone (fe80::1%eth0) would keep the address out of every prefix.
	ip = ip.WithZone("")
	for _, r := range p.Deny {
		if r.matchesIP(ip) {
			return &AddressDeniedError{Why: "denied: " + r.display}
		}
	}
	if len(p.Allow) == 0 || hostAllowed {
		return nil
	}
	for _, r := range p.Allow {
		if r.matchesIP(ip) {
			return nil
		}
	}
	return &AddressDeniedError{Why: "not in the allowed addresses"}
}

// dialControl checks the IP a connection is about to be made to; it runs after name resolution and before the
// connect system call, for every address a name resolves to.
func (p *AddressPolicy) dialControl(hostAllowed bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return &AddressDeniedError{Why: "not an IP: " + excerpt(host, 64)}
		}
		return p.checkIP(ip.Unmap(), hostAllowed)
	}
}

// CheckHost is checkHost for a source that names hosts as host:port (a Kafka broker) rather than by URL. It
// returns whether an allow rule names the host, which DialControl needs.
func (p *AddressPolicy) CheckHost(hostPort string) (hostAllowed bool, err error) {
	return p.checkHost(&url.URL{Host: hostPort})
}

// DialControl is dialControl for other sources: set it as a net.Dialer's Control, so that every IP a name
// resolves to is checked before the connect.
func (p *AddressPolicy) DialControl(hostAllowed bool) func(network, address string, c syscall.RawConn) error {
	return p.dialControl(hostAllowed)
}
