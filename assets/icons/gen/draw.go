package main

import (
	"image"
	"image/color"
	"math"
)

// The icons are drawn from signed distance functions over the unit square
// (x right, y down): negative inside a shape, positive outside, in units of
// the icon's width. Outlines are then a band outside a shape, the same
// geometry serves every size, and supersampling gives clean anti-aliasing.

type vec struct{ x, y float64 }

func (a vec) sub(b vec) vec     { return vec{a.x - b.x, a.y - b.y} }
func (a vec) add(b vec) vec     { return vec{a.x + b.x, a.y + b.y} }
func (a vec) mul(k float64) vec { return vec{a.x * k, a.y * k} }
func (a vec) dot(b vec) float64 { return a.x*b.x + a.y*b.y }
func (a vec) length() float64   { return math.Hypot(a.x, a.y) }
func polar(c vec, r, deg float64) vec {
	rad := deg * math.Pi / 180
	return vec{c.x + r*math.Cos(rad), c.y + r*math.Sin(rad)}
}

// sdf is a signed distance function.
type sdf func(p vec) float64

func circle(c vec, r float64) sdf {
	return func(p vec) float64 { return p.sub(c).length() - r }
}

// roundRect is an axis-aligned rectangle centred at c with half-extents h and
// corner radius r.
func roundRect(c, h vec, r float64) sdf {
	return func(p vec) float64 {
		q := vec{math.Abs(p.x-c.x) - h.x + r, math.Abs(p.y-c.y) - h.y + r}
		out := vec{math.Max(q.x, 0), math.Max(q.y, 0)}.length()
		return out + math.Min(math.Max(q.x, q.y), 0) - r
	}
}

// polygon is a simple (non-self-intersecting) polygon.
func polygon(pts ...vec) sdf {
	return func(p vec) float64 {
		d := p.sub(pts[0]).dot(p.sub(pts[0]))
		s := 1.0
		for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
			e := pts[j].sub(pts[i])
			w := p.sub(pts[i])
			t := math.Max(0, math.Min(1, w.dot(e)/e.dot(e)))
			b := w.sub(e.mul(t))
			d = math.Min(d, b.dot(b))
			c1 := p.y >= pts[i].y
			c2 := p.y < pts[j].y
			c3 := e.x*w.y > e.y*w.x
			if (c1 && c2 && c3) || (!c1 && !c2 && !c3) {
				s = -s
			}
		}
		return s * math.Sqrt(d)
	}
}

// segment is a stroke of half-width r from a to b with round ends.
func segment(a, b vec, r float64) sdf {
	return func(p vec) float64 {
		pa, ba := p.sub(a), b.sub(a)
		t := math.Max(0, math.Min(1, pa.dot(ba)/ba.dot(ba)))
		return p.sub(a.add(ba.mul(t))).length() - r
	}
}

// arc is the part of a ring (centre c, mid radius r, half-thickness w)
// going clockwise on screen from angle from to angle to (degrees, to > from,
// less than a full turn), with square ends.
func arc(c vec, r, w, from, to float64) sdf {
	ends := []sdf{
		segment(polar(c, r-w, from), polar(c, r+w, from), 0),
		segment(polar(c, r-w, to), polar(c, r+w, to), 0),
	}
	return func(p vec) float64 {
		q := p.sub(c)
		deg := math.Atan2(q.y, q.x) * 180 / math.Pi
		for deg < from {
			deg += 360
		}
		if deg <= to {
			return math.Abs(q.length()-r) - w
		}
		return math.Min(ends[0](p), ends[1](p))
	}
}

func ring(c vec, r, w float64) sdf {
	return func(p vec) float64 { return math.Abs(p.sub(c).length()-r) - w }
}

func union(fs ...sdf) sdf {
	return func(p vec) float64 {
		d := math.Inf(1)
		for _, f := range fs {
			d = math.Min(d, f(p))
		}
		return d
	}
}

// subtract is a with b cut out of it.
func subtract(a, b sdf) sdf {
	return func(p vec) float64 { return math.Max(a(p), -b(p)) }
}

// layer is one shape painted with a fill and, when outline > 0, a band of
// that width (in pixels) of the outline colour around it.
type layer struct {
	shape   sdf
	fill    color.NRGBA
	outline float64 // pixels
	stroke  color.NRGBA
	// edge, when set, is the shape whose border gets the outline instead of
	// shape's: a hole inside edge then stays open instead of filling up
	// with outline at small sizes.
	edge sdf
}

// render paints the layers in order onto a transparent size×size image.
func render(size int, layers []layer) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	ss := 8 // samples per axis
	if size > 64 {
		ss = 4
	}
	n := float64(ss * ss)
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64 // premultiplied sums
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					p := vec{
						(float64(px) + (float64(sx)+0.5)/float64(ss)) / float64(size),
						(float64(py) + (float64(sy)+0.5)/float64(ss)) / float64(size),
					}
					c, ok := sample(p, size, layers)
					if !ok {
						continue
					}
					fa := float64(c.A) / 255
					r += float64(c.R) * fa
					g += float64(c.G) * fa
					b += float64(c.B) * fa
					a += fa
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a)),
				G: uint8(math.Round(g / a)),
				B: uint8(math.Round(b / a)),
				A: uint8(math.Round(a / n * 255)),
			})
		}
	}
	return img
}

// sample is the colour at one point: the topmost layer that covers it.
func sample(p vec, size int, layers []layer) (color.NRGBA, bool) {
	var out color.NRGBA
	hit := false
	for _, l := range layers {
		d := l.shape(p)
		e := d
		if l.edge != nil {
			e = l.edge(p)
		}
		switch {
		case d < 0:
			out, hit = l.fill, true
		case l.outline > 0 && e >= 0 && e < l.outline/float64(size):
			out, hit = l.stroke, true
		}
	}
	return out, hit
}
