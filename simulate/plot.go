package simulate

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format is the picture's file format.
type Format string

const (
	PNG Format = "png"
	SVG Format = "svg"
)

// palette tells up to twelve instances apart; more instances reuse it.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255}, {0, 0, 128, 255}, {128, 128, 0, 255},
}

// WritePlot draws four panels over time, one line per instance: production and consumption, the lag of the
// instance's worst partition against tolerableLag, the consumer container's CPU request with a mark per
// restart, and the CPU requested in total against what the production needs.
func (r *Result) WritePlot(w io.Writer, f Format) error {
	names, series := r.byInstance()
	hours := func(d time.Duration) float64 { return d.Hours() }
	title := fmt.Sprintf("%s: %s", r.Trace, r.Consumer)

	rates := newPanel(title+" — production (solid) and consumption (dotted) per instance", "msg/s")
	lag := newPanel("lag of each instance's worst partition", "minutes")
	cpu := newPanel("CPU request of the consumer container per instance (dots: restarts)", "cores")
	total := newPanel("CPU requested by all instances (blue) and needed by the production (grey)", "cores")
	total.X.Label.Text = "hours"
	var maxLag float64
	for i, name := range names {
		rows := series[name]
		col := palette[i%len(palette)]
		prod, cons, lagPts, req := make(plotter.XYs, len(rows)), make(plotter.XYs, len(rows)), make(plotter.XYs, len(rows)), make(plotter.XYs, 0, 2*len(rows))
		for k, row := range rows {
			x := hours(row.At)
			prod[k] = plotter.XY{X: x, Y: row.Production}
			cons[k] = plotter.XY{X: x, Y: row.Consumption}
			l := row.MaxLag / 60
			if math.IsInf(l, 1) || l > 24*60 {
				l = 24 * 60
			}
			maxLag = math.Max(maxLag, l)
			lagPts[k] = plotter.XY{X: x, Y: l}
			// steps: a request holds until the next row
			if k > 0 {
				req = append(req, plotter.XY{X: x, Y: rows[k-1].CPURequest})
			}
			req = append(req, plotter.XY{X: x, Y: row.CPURequest})
		}
		addLine(rates, prod, col, nil, 1)
		addLine(rates, cons, col, []vg.Length{vg.Points(1), vg.Points(2)}, 1)
		addLine(lag, lagPts, col, nil, 1)
		l := addLine(cpu, req, col, nil, 1.2)
		cpu.Legend.Add(name, l)
	}
	var marks plotter.XYs
	markColors := []color.Color{}
	for _, ev := range r.RestartTimes {
		rows := series[ev.Instance]
		y := 0.0
		if len(rows) > 0 {
			y = rows[len(rows)-1].CPURequest
		}
		for _, row := range rows {
			if row.At > ev.At {
				y = row.CPURequest
				break
			}
		}
		marks = append(marks, plotter.XY{X: hours(ev.At), Y: y})
		markColors = append(markColors, palette[indexOf(names, ev.Instance)%len(palette)])
	}
	if len(marks) > 0 {
		sc, err := plotter.NewScatter(marks)
		if err == nil {
			sc.GlyphStyle.Radius = vg.Points(1.8)
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
				return draw.GlyphStyle{Color: markColors[i], Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
			}
			cpu.Add(sc)
		}
	}
	if r.TolerableLag > 0 {
		tl := r.TolerableLag.Minutes()
		line := plotter.XYs{{X: 0, Y: tl}, {X: r.Duration.Hours(), Y: tl}}
		l := addLine(lag, line, color.RGBA{200, 0, 0, 255}, []vg.Length{vg.Points(4), vg.Points(3)}, 1.2)
		lag.Legend.Add(fmt.Sprintf("tolerableLag %s", r.TolerableLag), l)
		lag.Legend.Top, lag.Legend.Left = true, true
		lag.Y.Max = math.Max(math.Max(maxLag, tl)*1.1, 1)
	}
	lag.Y.Min = 0
	need, have := r.totals()
	addLine(total, have, color.RGBA{31, 119, 180, 255}, nil, 1.4)
	addLine(total, need, color.RGBA{120, 120, 120, 255}, nil, 1.2)
	total.Y.Min, cpu.Y.Min, rates.Y.Min = 0, 0, 0
	cpu.Legend.Top, cpu.Legend.Left = true, true
	cpu.Legend.TextStyle.Font.Size = vg.Points(7)
	cpu.Legend.ThumbnailWidth = vg.Points(10)
	if len(names) > 12 {
		cpu.Legend = plot.NewLegend() // too many to name; the colours still tell instances apart
	}
	for _, p := range []*plot.Plot{rates, lag, cpu, total} {
		p.X.Min, p.X.Max = 0, r.Duration.Hours()
	}

	width, height := 28*vg.Centimeter, 30*vg.Centimeter
	plots := [][]*plot.Plot{{rates}, {lag}, {cpu}, {total}}
	tiles := draw.Tiles{Rows: 4, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6),
		PadRight: vg.Points(10), PadY: vg.Points(10)}
	switch f {
	case SVG:
		c := vgsvg.New(width, height)
		dc := draw.New(c)
		fillWhite(dc)
		drawAll(plots, tiles, dc)
		_, err := c.WriteTo(w)
		return err
	case PNG, "":
		c := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
		dc := draw.New(c)
		fillWhite(dc)
		drawAll(plots, tiles, dc)
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	default:
		return fmt.Errorf("picture format %q: want png or svg", f)
	}
}

func fillWhite(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
}

func drawAll(plots [][]*plot.Plot, tiles draw.Tiles, dc draw.Canvas) {
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
}

func newPanel(title, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.Text = y
	p.X.Tick.Marker = hourTicks{}
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, pts plotter.XYs, c color.Color, dashes []vg.Length, width float64) *plotter.Line {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return &plotter.Line{}
	}
	l.Color, l.Dashes, l.Width = c, dashes, vg.Points(width)
	p.Add(l)
	return l
}

// hourTicks marks whole hours (every second, fourth… hour on long runs).
type hourTicks struct{}

func (hourTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for (hi-lo)/step > 12 {
		step *= 2
	}
	var out []plot.Tick
	for h := math.Ceil(lo/step) * step; h <= hi; h += step {
		out = append(out, plot.Tick{Value: h, Label: fmt.Sprintf("%gh", h)})
	}
	return out
}

func (r *Result) byInstance() ([]string, map[string][]Row) {
	series := map[string][]Row{}
	for _, row := range r.Timeline {
		series[row.Instance] = append(series[row.Instance], row)
	}
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if a, b := instanceIndex(names[i]), instanceIndex(names[j]); a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	return names, series
}

// totals are, per timeline interval, the cores the production needs (at the capacity per core) and the cores
// requested by all instances.
func (r *Result) totals() (need, have plotter.XYs) {
	var at []time.Duration
	sumNeed, sumHave := map[time.Duration]float64{}, map[time.Duration]float64{}
	for _, row := range r.Timeline {
		if _, ok := sumHave[row.At]; !ok {
			at = append(at, row.At)
		}
		sumNeed[row.At] += row.Production / r.RatePerCore
		sumHave[row.At] += row.PodCPU
	}
	for _, t := range at {
		need = append(need, plotter.XY{X: t.Hours(), Y: sumNeed[t]})
		have = append(have, plotter.XY{X: t.Hours(), Y: sumHave[t]})
	}
	return need, have
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return 0
}
