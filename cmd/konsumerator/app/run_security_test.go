package app

import (
	"flag"
	"io"
	"slices"
	"testing"

	"github.com/konsumerator/konsumerator/observer/lag"
)

func parseRunFlags(t *testing.T, args ...string) runFlags {
	t.Helper()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f runFlags
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSecureByDefault(t *testing.T) {
	f := parseRunFlags(t)
	o := metricsOptions(f)
	if !o.SecureServing || o.FilterProvider == nil || o.BindAddress != ":8443" {
		t.Errorf("default metrics options: secure %v, filter %v, address %q", o.SecureServing, o.FilterProvider != nil, o.BindAddress)
	}
	if f.maxResponseBytes != lag.DefaultMaxResponseBytes || f.sourceDeny != lag.DefaultDeniedAddresses {
		t.Errorf("defaults: max %d, deny %q", f.maxResponseBytes, f.sourceDeny)
	}
	o = metricsOptions(parseRunFlags(t, "--metrics-secure=false"))
	if o.SecureServing || o.FilterProvider != nil {
		t.Error("--metrics-secure=false still serves HTTPS with authentication")
	}
}

func TestAddressPolicyFlags(t *testing.T) {
	if _, err := addressPolicy("10.0.0.0/8, *.monitoring.svc", "169.254.0.0/16"); err != nil {
		t.Errorf("valid rules: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "http://x", "*.", "a*b"} {
		if _, err := addressPolicy(bad, ""); err == nil {
			t.Errorf("--metrics-source-allow=%s was accepted", bad)
		}
	}
	if got := splitList(" a, ,b ,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("splitList: %v", got)
	}
}

func TestParseWatch(t *testing.T) {
	w, err := parseWatch("konsumerator.lwolf.org/shard in (a,b),team!=x", " team-a, team-b ,")
	if err != nil {
		t.Fatal(err)
	}
	if w.Selector.String() != "konsumerator.lwolf.org/shard in (a,b),team!=x" || len(w.Namespaces) != 2 || w.Namespaces[1] != "team-b" {
		t.Errorf("parsed %q and %q", w.Selector, w.Namespaces)
	}
	if w, err := parseWatch("", ""); err != nil || w.Selector != nil || w.Namespaces != nil {
		t.Errorf("empty flags: %+v, %v; want no restriction", w, err)
	}
	if _, err := parseWatch("shard in a", ""); err == nil {
		t.Error("a malformed selector was accepted")
	}
}
