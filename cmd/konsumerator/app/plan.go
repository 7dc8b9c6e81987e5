package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	konsumeratorv1 "github.com/konsumerator/konsumerator/api/v1"
	"github.com/konsumerator/konsumerator/internal/consumerfile"
	"github.com/konsumerator/konsumerator/model"
	"github.com/konsumerator/konsumerator/planner"
)

// planEpoch is "now" for objects written by hand when neither --now nor a metrics sample gives a time: the output
// does not depend on the wall clock, so the same files always print the same plan.
var planEpoch = time.Unix(0, 0).UTC()

// wallClock is "now" for live objects; tests replace it.
var wallClock = time.Now

const planUsage = `Usage: konsumerator plan -f CONSUMER.yaml [--deployments FILE] [--metrics FILE] [--now RFC3339] [-o text|yaml]
       konsumerator plan --snapshot SNAPSHOT.yaml [-o text|yaml]

Prints the plan the operator would make, offline: no cluster, no Prometheus.
  -f, --consumer              a Consumer manifest (konsumerator.lwolf.org/v1 or v1alpha1); "-" reads standard input
  --deployments               the Deployments that exist: YAML documents or a List (optional), e.g.
                              kubectl get deploy -l konsumerator.lwolf.org/consumer=NAME -o yaml
  --metrics                   a metrics sample (model.MetricsSample, YAML or JSON; optional)
  --snapshot                  replay a recorded snapshot (YAML or JSON) instead of the three files above
  --now                       the time of the plan, RFC 3339. Default, in this order: the snapshot's time (with
                              --snapshot); the metrics sample's time; the current time when the Consumer or a
                              Deployment was read from a cluster (it has a metadata.creationTimestamp);
                              else 1970-01-01T00:00:00Z, so that hand-written files always give the same plan
  --max-rollouts-in-flight    instances restarting at once (default 0: a tenth of the instances, at least 1)
  --metrics-stale-after       age from which a metrics sample is not used, e.g. 5m (default 0: 3 × minSyncPeriod)
  -o, --output                text (default) or yaml
  -h, --help                  this help
`

type planFlags struct {
	consumer, deployments, metrics, snapshot, now, output string
	maxRollouts                                           int
	staleAfter                                            time.Duration
	// live is set once the files turn out to hold objects read from a cluster.
	live bool
}

// newPlanFlagSet binds every flag of plan to f; planUsage must describe each of them (a test checks).
func newPlanFlagSet(f *planFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below: to stdout when asked for, to stderr after a mistake
	for _, name := range []string{"f", "consumer"} {
		fs.StringVar(&f.consumer, name, "", "Consumer manifest file, - for stdin")
	}
	fs.StringVar(&f.deployments, "deployments", "", "Deployments file")
	fs.StringVar(&f.metrics, "metrics", "", "metrics sample file")
	fs.StringVar(&f.snapshot, "snapshot", "", "recorded snapshot file")
	fs.StringVar(&f.now, "now", "", "time of the plan, RFC 3339")
	for _, name := range []string{"o", "output"} {
		fs.StringVar(&f.output, name, "text", "text or yaml")
	}
	fs.IntVar(&f.maxRollouts, "max-rollouts-in-flight", 0, "rollout budget (0: a tenth of the instances, at least 1)")
	fs.DurationVar(&f.staleAfter, "metrics-stale-after", 0, "age from which a sample is not used (0: 3 × minSyncPeriod)")
	return fs
}

func runPlan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f planFlags
	fs := newPlanFlagSet(&f, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, planUsage)
			return 0
		}
		fmt.Fprint(stderr, "\n", planUsage)
		return 2
	}
	if fs.NArg() > 0 || (f.consumer == "") == (f.snapshot == "") || (f.output != "text" && f.output != "yaml") {
		fmt.Fprint(stderr, planUsage)
		return 2
	}
	snap, err := f.load(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "plan: %v\n", err)
		return 1
	}
	if f.live && f.now == "" && (snap.Metrics == nil || snap.Metrics.Time.IsZero()) {
		// Said on stderr, so that a person knows why two runs differ, and the plan on stdout stays clean.
		fmt.Fprintf(stderr, "plan: as of now, %s: the objects were read from a cluster (--now sets the time)\n",
			snap.Now.Format(time.RFC3339))
	}
	p := planner.Plan(snap)
	if f.output == "yaml" {
		out, err := planner.YAML(p)
		if err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(out)
		return 0
	}
	fmt.Fprint(stdout, planner.Text(p), planner.StatusText(p))
	return 0
}

// load builds the snapshot from the files named by the flags.
func (f *planFlags) load(stdin io.Reader) (*model.Snapshot, error) {
	var snap *model.Snapshot
	if f.snapshot != "" {
		raw, err := consumerfile.Read(f.snapshot, stdin)
		if err != nil {
			return nil, err
		}
		snap = &model.Snapshot{}
		if err := yaml.Unmarshal(raw, snap); err != nil {
			return nil, fmt.Errorf("%s: %w", f.snapshot, err)
		}
	} else {
		var err error
		if snap, err = f.fromFiles(stdin); err != nil {
			return nil, err
		}
	}
	if f.now != "" {
		now, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return nil, fmt.Errorf("--now: %w", err)
		}
		snap.Now = now
	}
	if f.maxRollouts != 0 {
		snap.Options.MaxRolloutsInFlight = f.maxRollouts
	}
	if f.staleAfter != 0 {
		snap.Options.MetricsStaleAfter = model.Duration(f.staleAfter)
	}
	return snap, nil
}

func (f *planFlags) fromFiles(stdin io.Reader) (*model.Snapshot, error) {
	c, err := consumerfile.Load(f.consumer, stdin)
	if err != nil {
		return nil, err
	}
	snap := &model.Snapshot{Now: planEpoch, Spec: c.Spec, Status: c.Status}
	if f.deployments != "" {
		raw, err := consumerfile.Read(f.deployments, stdin)
		if err != nil {
			return nil, err
		}
		if snap.Deployments, err = decodeDeployments(raw, c.Namespace); err != nil {
			return nil, fmt.Errorf("%s: %w", f.deployments, err)
		}
	}
	// Objects an API server has seen carry a creationTimestamp; planning them as of 1970 would read every
	// timestamp they carry as decades in the future. Hand-written files have none and keep the fixed epoch.
	f.live = !c.CreationTimestamp.IsZero()
	for _, d := range snap.Deployments {
		f.live = f.live || !d.CreationTimestamp.IsZero()
	}
	if f.live {
		snap.Now = wallClock().UTC().Truncate(time.Second)
	}
	if c.UID == "" {
		c.UID = adoptedUID(c, snap.Deployments)
	}
	snap.Owner = model.Owner{APIVersion: c.APIVersion, Kind: model.OwnerConsumer, Namespace: c.Namespace,
		Name: c.Name, UID: c.UID, Generation: c.Generation, Annotations: c.Annotations}
	if f.metrics != "" {
		raw, err := consumerfile.Read(f.metrics, stdin)
		if err != nil {
			return nil, err
		}
		snap.Metrics = &model.MetricsSample{}
		if err := yaml.Unmarshal(raw, snap.Metrics); err != nil {
			return nil, fmt.Errorf("%s: %w", f.metrics, err)
		}
		if !snap.Metrics.Time.IsZero() {
			snap.Now = snap.Metrics.Time
		}
	}
	return snap, nil
}

// adoptedUID takes the owner UID from the Deployments' controller references to a Consumer of this name, so
// that a manifest without a UID still owns the Deployments read from a cluster; else a fixed placeholder.
func adoptedUID(c *konsumeratorv1.Consumer, ds []appsv1.Deployment) types.UID {
	for _, d := range ds {
		for _, r := range d.OwnerReferences {
			if r.Controller != nil && *r.Controller && r.Kind == "Consumer" && r.Name == c.Name {
				return r.UID
			}
		}
	}
	return types.UID("offline-" + c.Name)
}

// decodeDeployments reads YAML or JSON documents, each a Deployment or a List of them, sorted by name as the
// observer delivers them.
func decodeDeployments(raw []byte, namespace string) ([]appsv1.Deployment, error) {
	var out []appsv1.Deployment
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		var doc json.RawMessage
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 || string(doc) == "null" {
			continue
		}
		var head struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, err
		}
		items := []json.RawMessage{doc}
		if strings.HasSuffix(head.Kind, "List") {
			items = head.Items
		}
		for _, item := range items {
			d := appsv1.Deployment{}
			if err := json.Unmarshal(item, &d); err != nil {
				return nil, err
			}
			if d.Kind != "" && d.Kind != "Deployment" {
				return nil, fmt.Errorf("%s %q is not a Deployment", d.Kind, d.Name)
			}
			if d.Namespace == "" {
				d.Namespace = namespace
			}
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
