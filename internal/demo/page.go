package demo

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"image/color"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/konsumerator/konsumerator/internal/exporter"
)

// Sample is what the page shows at one moment: the exporter's figures and the Consumer's instances.
type Sample struct {
	At    time.Time
	Phase exporter.Phase
	// Behind is the messages not yet consumed, per partition.
	Behind []float64
	// Figures are the exporter's rates and lag, per partition.
	Figures []exporter.Figures
	// Running, Expected and Lagging are the Consumer's status counts.
	Running, Expected, Lagging int32
	Instances                  []Instance
}

// SampleFunc reads the world once.
type SampleFunc func(ctx context.Context) (Sample, error)

// Sample reads the demo's exporter and cluster once.
func (d *Demo) Sample(ctx context.Context) (Sample, error) {
	st, err := d.Observe(ctx)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{At: time.Now(), Phase: d.Exporter.Phase(), Figures: d.Exporter.Figures(), Instances: st.Instances}
	for _, f := range s.Figures {
		s.Behind = append(s.Behind, f.Behind)
	}
	status := st.Consumer.Status
	s.Running, s.Expected, s.Lagging = deref(status.Running), deref(status.Expected), deref(status.Lagging)
	return s, nil
}

// Page serves the demo as a person looks at it, on a loopback address: plots of the lag per partition, the CPU
// per instance and the scaling state of each instance over the last minutes, rendered as SVG on the server, and
// a table of the instances now. The page is one self-contained document: nothing is fetched from elsewhere.
type Page struct {
	// URL is where the page is served.
	URL string

	sample SampleFunc
	window time.Duration
	server *http.Server

	mu      sync.Mutex
	samples []Sample
	lastErr error
}

// PageWindow is how far back the plots go: a whole cycle of the demo's timeline and some.
const PageWindow = 5 * time.Minute

// StartPage samples every interval until ctx ends or Stop, and serves the page on addr (e.g. 127.0.0.1:0).
func StartPage(ctx context.Context, addr string, interval time.Duration, sample SampleFunc) (*Page, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo page: %w", err)
	}
	p := &Page{URL: "http://" + listener.Addr().String() + "/", sample: sample, window: PageWindow}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.serveIndex)
	mux.HandleFunc("GET /instances", p.serveInstances)
	mux.HandleFunc("GET /lag.svg", p.servePlot(p.lagPlot))
	mux.HandleFunc("GET /cpu.svg", p.servePlot(p.cpuPlot))
	mux.HandleFunc("GET /scaling.svg", p.servePlot(p.scalingPlot))
	mux.HandleFunc("GET /rates.svg", p.servePlot(p.ratesPlot))
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.server.Serve(listener) }()
	ctx, cancel := context.WithCancel(ctx)
	p.server.RegisterOnShutdown(cancel)
	p.record(ctx)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.record(ctx)
			}
		}
	}()
	return p, nil
}

// Stop closes the server and ends sampling; it is safe to call twice.
func (p *Page) Stop() {
	_ = p.server.Shutdown(context.Background())
}

func (p *Page) record(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := p.sample(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
	if err != nil {
		return
	}
	p.samples = append(p.samples, s)
	cut := 0
	for cut < len(p.samples) && s.At.Sub(p.samples[cut].At) > p.window {
		cut++
	}
	p.samples = append([]Sample(nil), p.samples[cut:]...)
}

func (p *Page) snapshot() ([]Sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Sample(nil), p.samples...), p.lastErr
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>konsumerator demo</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
.plots img { display: block; width: 900px; height: 300px; margin: 0.5em 0; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.8em; text-align: left; }
.RUNNING { background: #d8f0d8; } .PENDING_SCALE_UP { background: #fde2c0; } .PENDING_SCALE_DOWN { background: #cfe0f7; }
.phase-spike { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>konsumerator demo: Consumer demo</h1>
<div id="instances">{{template "instances" .}}</div>
<div class="plots">
<img id="lag" alt="messages behind per partition" src="lag.svg" onload="this.dataset.loaded=this.naturalWidth">
<img id="rates" alt="messages produced and read per second, per instance" src="rates.svg" onload="this.dataset.loaded=this.naturalWidth">
<img id="cpu" alt="CPU per instance, as its pod has it" src="cpu.svg" onload="this.dataset.loaded=this.naturalWidth">
<img id="scaling" alt="scaling state per instance" src="scaling.svg" onload="this.dataset.loaded=this.naturalWidth">
</div>
<script>
// Refresh the table and the plots in place every 2 seconds, from this server only.
setInterval(function () {
  fetch("instances").then(function (r) { return r.text(); }).then(function (html) {
    document.getElementById("instances").innerHTML = html;
  }).catch(function () {});
  ["lag", "rates", "cpu", "scaling"].forEach(function (id) {
    document.getElementById(id).src = id + ".svg?t=" + Date.now();
  });
}, 2000);
</script>
</body>
</html>
{{define "instances"}}<p>Scenario phase: <span id="phase" class="phase-{{.Phase}}">{{.Phase}}</span>
 · running {{.Running}}/{{.Expected}} · lagging {{.Lagging}} · at {{.At.Format "15:04:05"}}{{if .Err}} · <em>last read failed: {{.Err}}</em>{{end}}</p>
<table>
<tr><th>instance</th><th>partitions</th><th>CPU (pod)</th><th>reads up to</th><th>memory request</th><th>scaling state</th><th>since</th><th>available</th></tr>
{{range .Instances}}<tr data-instance="{{.Name}}" class="{{.Scaling}}"><td>{{.Name}}</td><td>{{.Partitions}}</td><td class="cpu">{{.PodCPU}}</td><td class="reads">{{printf "%.0f" .Reads}}/s</td><td>{{.Memory}}</td><td class="scaling">{{.Scaling}}</td><td>{{.Since}}</td><td>{{.Available}}</td></tr>
{{end}}</table>{{end}}`))

type instancesView struct {
	Sample
	Err error
}

func (p *Page) current() instancesView {
	samples, err := p.snapshot()
	v := instancesView{Err: err}
	if len(samples) > 0 {
		v.Sample = samples[len(samples)-1]
	}
	return v
}

func (p *Page) serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.Execute(w, p.current())
}

func (p *Page) serveInstances(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTemplate.ExecuteTemplate(w, "instances", p.current())
}

func (p *Page) servePlot(build func([]Sample) *plot.Plot) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		samples, _ := p.snapshot()
		pl := build(samples)
		pl.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05", Time: plot.UnixTimeIn(time.Local)}
		pl.X.Label.Text = "time"
		pl.Legend.Top = true
		pl.Legend.Left = true
		var buf bytes.Buffer
		wt, err := pl.WriterTo(9*vg.Inch, 3*vg.Inch, "svg")
		if err == nil {
			_, err = wt.WriteTo(&buf)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// palette tells series apart; the demo has at most six partitions and three instances.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

func (p *Page) lagPlot(samples []Sample) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = "Messages behind, per partition"
	pl.Y.Label.Text = "messages"
	pl.Y.Min = 0
	partitions := 0
	for _, s := range samples {
		partitions = max(partitions, len(s.Behind))
	}
	for part := range partitions {
		var xys plotter.XYs
		for _, s := range samples {
			if part < len(s.Behind) {
				xys = append(xys, plotter.XY{X: unix(s.At), Y: s.Behind[part]})
			}
		}
		addLine(pl, xys, "partition "+strconv.Itoa(part), palette[part%len(palette)], false)
	}
	return pl
}

func (p *Page) cpuPlot(samples []Sample) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = "CPU per instance (its pod's: what it reads with)"
	pl.Y.Label.Text = "cores"
	pl.Y.Min = 0
	for i, name := range instanceNames(samples) {
		var xys plotter.XYs
		for _, s := range samples {
			in, ok := State{Instances: s.Instances}.Instance(name)
			if !ok {
				continue
			}
			if q, err := resource.ParseQuantity(in.PodCPU()); err == nil {
				xys = append(xys, plotter.XY{X: unix(s.At), Y: float64(q.MilliValue()) / 1000})
			}
		}
		addLine(pl, xys, name, palette[i%len(palette)], true)
	}
	return pl
}

// ratesPlot shows the closed loop per instance: what its partitions are produced at (dashed) and what its
// consumer reads (solid), which the CPU it has bounds and a restart stops.
func (p *Page) ratesPlot(samples []Sample) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = "Messages per second, per instance: produced (dashed) and read"
	pl.Y.Label.Text = "messages/s"
	pl.Y.Min = 0
	for i, name := range instanceNames(samples) {
		var produced, read plotter.XYs
		for _, s := range samples {
			in, ok := State{Instances: s.Instances}.Instance(name)
			if !ok || len(s.Figures) == 0 {
				continue
			}
			l := Lags(State{Instances: []Instance{in}}, s.Figures)[0]
			produced = append(produced, plotter.XY{X: unix(s.At), Y: l.Production})
			read = append(read, plotter.XY{X: unix(s.At), Y: l.Consumption})
		}
		c := palette[i%len(palette)]
		addLine(pl, read, name+" read", c, false)
		if line := addLine(pl, produced, name+" produced", c, false); line != nil {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
	}
	return pl
}

func addLine(pl *plot.Plot, xys plotter.XYs, name string, c color.Color, steps bool) *plotter.Line {
	if len(xys) == 0 {
		return nil
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil
	}
	line.Color, line.Width = c, vg.Points(1.5)
	if steps {
		// A request holds until the operator changes it.
		line.StepStyle = plotter.PreStep
	}
	pl.Add(line)
	pl.Legend.Add(name, line)
	return line
}

// scalingColors are the states' colors, as in the table.
var scalingColors = map[string]color.Color{
	"RUNNING":            color.RGBA{R: 0x7c, G: 0xc4, B: 0x7c, A: 0xff},
	"PENDING_SCALE_UP":   color.RGBA{R: 0xf5, G: 0x9e, B: 0x2e, A: 0xff},
	"PENDING_SCALE_DOWN": color.RGBA{R: 0x5b, G: 0x8f, B: 0xd9, A: 0xff},
}

var unknownState = color.RGBA{R: 0xbb, G: 0xbb, B: 0xbb, A: 0xff}

func (p *Page) scalingPlot(samples []Sample) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = "Scaling state, per instance"
	names := instanceNames(samples)
	pl.Add(stateBands{samples: samples, names: names})
	pl.NominalY(names...)
	// The band above the last instance is room for the legend.
	pl.Y.Min, pl.Y.Max = -0.6, float64(len(names))+0.6
	for _, st := range []string{"RUNNING", "PENDING_SCALE_UP", "PENDING_SCALE_DOWN"} {
		pl.Legend.Add(st, swatch{scalingColors[st]})
	}
	return pl
}

// stateBands draws one band per instance, colored by its scaling state over time.
type stateBands struct {
	samples []Sample
	names   []string
}

func (b stateBands) Plot(c draw.Canvas, pl *plot.Plot) {
	trX, trY := pl.Transforms(&c)
	for row, name := range b.names {
		// One rectangle per run of samples in the same state: adjacent rectangles would show seams.
		for i := 0; i < len(b.samples); {
			state, ok := scalingState(b.samples[i], name)
			j := i + 1
			for j < len(b.samples) {
				if st, ok2 := scalingState(b.samples[j], name); st != state || ok2 != ok {
					break
				}
				j++
			}
			end := b.samples[len(b.samples)-1].At
			if j < len(b.samples) {
				end = b.samples[j].At
			}
			if ok {
				col, known := scalingColors[state]
				if !known {
					col = unknownState
				}
				x0, x1 := trX(unix(b.samples[i].At)), trX(unix(end))
				if x1-x0 < 1 {
					x1 = x0 + 1 // the latest sample stays visible
				}
				y0, y1 := trY(float64(row)-0.35), trY(float64(row)+0.35)
				c.FillPolygon(col, c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
			}
			i = j
		}
	}
}

func scalingState(s Sample, name string) (string, bool) {
	in, ok := State{Instances: s.Instances}.Instance(name)
	return in.Scaling, ok
}

func (b stateBands) DataRange() (xmin, xmax, ymin, ymax float64) {
	if len(b.samples) == 0 {
		return 0, 1, 0, 1
	}
	return unix(b.samples[0].At), unix(b.samples[len(b.samples)-1].At), 0, float64(max(len(b.names)-1, 0))
}

// swatch is a legend entry of one color.
type swatch struct{ color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.Color, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// instanceNames are the instances seen in any sample, by name.
func instanceNames(samples []Sample) []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range samples {
		for _, in := range s.Instances {
			if !seen[in.Name] {
				seen[in.Name] = true
				names = append(names, in.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}
