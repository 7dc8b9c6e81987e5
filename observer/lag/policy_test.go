package lag

import (
	"net/url"
	"testing"
)

func TestAddressPolicy(t *testing.T) {
	t.Parallel()
	policy := func(allow, deny string) *AddressPolicy {
		a, err := ParseAddressRules(allow)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseAddressRules(deny)
		if err != nil {
			t.Fatal(err)
		}
		return &AddressPolicy{Allow: a, Deny: d}
	}
	for _, tc := range []struct {
		name, allow, deny, address, dialed string
		want                               bool
	}{
		{name: "default: any address", deny: DefaultDeniedAddresses, address: "http://prometheus:9090", dialed: "10.1.2.3", want: true},
		{name: "default: metadata by IP", deny: DefaultDeniedAddresses, address: "http://169.254.169.254/", want: false},
		{name: "default: metadata behind a name", deny: DefaultDeniedAddresses, address: "http://metadata.evil.example/", dialed: "169.254.169.254", want: false},
		{name: "default: IPv6 link-local", deny: DefaultDeniedAddresses, address: "http://[fe80::1]/", want: false},
		{name: "denied host pattern", deny: "*.internal", address: "http://admin.corp.internal/", want: false},
		{name: "denied host, any case and a trailing dot", deny: "admin.example.com", address: "http://ADMIN.example.com./", want: false},
		{name: "allowed by host pattern", allow: "*.monitoring.svc.cluster.local", address: "http://prom.monitoring.svc.cluster.local:9090", dialed: "10.96.0.10", want: true},
		{name: "allowed by CIDR", allow: "10.96.0.0/12", address: "http://prom:9090", dialed: "10.96.0.10", want: true},
		{name: "not in the allow list", allow: "10.96.0.0/12,*.monitoring.svc", address: "http://prom.team-a.svc:9090", dialed: "10.244.1.1", want: false},
		{name: "deny wins over an allowed name", allow: "*.monitoring.svc", deny: "169.254.0.0/16", address: "http://prom.monitoring.svc/", dialed: "169.254.1.1", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(tc.allow, tc.deny)
			u, _ := url.Parse(tc.address)
			hostAllowed, err := p.checkHost(u)
			if err == nil && tc.dialed != "" {
				err = p.dialControl(hostAllowed)("tcp", tc.dialed+":80", nil)
			}
			if got := err == nil; got != tc.want {
				t.Errorf("allowed = %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
