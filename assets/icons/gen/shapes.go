package main

import (
	"fmt"
	"image/color"
	"math"
	"strings"
)

// Palette. The fills are bright enough to read on a dark panel; the dark
// outline makes every icon read on a light one.
var (
	green = color.NRGBA{0x22, 0xc5, 0x5e, 0xff}
	blue  = color.NRGBA{0x3b, 0x82, 0xf6, 0xff}
	amber = color.NRGBA{0xf5, 0x9e, 0x0b, 0xff}
	red   = color.NRGBA{0xdc, 0x26, 0x26, 0xff}
	grey  = color.NRGBA{0x9c, 0xa3, 0xaf, 0xff}
	teal  = color.NRGBA{0x2d, 0xd4, 0xbf, 0xff}
	white = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	dark  = color.NRGBA{0x11, 0x18, 0x27, 0xff}
	slate = color.NRGBA{0x1e, 0x29, 0x3b, 0xff}
	light = color.NRGBA{0xe2, 0xe8, 0xf0, 0xff}
)

// outlinePx is the outline width at a size: one pixel at 16-22 px, growing
// slowly above.
func outlinePx(size int) float64 { return math.Max(1, float64(size)/18) }

// margin keeps a shape and its outline inside the canvas, in unit-square
// units.
func margin(size int) float64 { return (outlinePx(size) + 0.25) / float64(size) }

var centre = vec{0.5, 0.5}

// glyph returns the layers of one state's icon. The states differ in shape
// (their alpha masks differ) as well as in colour:
//
//	running                    filled circle, green
//	starting                   hourglass, blue
//	restarting                 circular arrow, amber
//	failed_after_max_restarts  triangle with "!", red
//	stopped                    rounded square, grey
//	not_spawning               circle with a slash ("no entry"), grey
//	running_busy               speech bubble with three white dots, green (generating)
//	running_sleeping           crescent moon, teal (the model sleeps)
func glyph(state string, size int) []layer {
	m := margin(size)
	o := outlinePx(size)
	out := func(s sdf, fill color.NRGBA) layer { return layer{shape: s, fill: fill, outline: o, stroke: dark} }
	switch state {
	case "running":
		return []layer{out(circle(centre, 0.5-m), green)}
	case "running_busy":
		// The running circle turned into a speech bubble that is typing:
		// a tail at the bottom left, three dots.
		c := vec{0.52, 0.45}
		r := 0.45 - m
		tail := polygon(vec{0.2, 0.6}, vec{m + 0.02, 1 - m - 0.02}, vec{0.5, 0.88})
		dots := union(circle(vec{c.x - 0.2, c.y}, 0.07), circle(c, 0.07), circle(vec{c.x + 0.2, c.y}, 0.07))
		return []layer{out(union(circle(c, r), tail), green), {shape: dots, fill: white}}
	case "running_sleeping":
		r := 0.5 - m
		bite := circle(vec{0.5 + 0.3, 0.5 - 0.22}, r*0.78)
		return []layer{out(subtract(circle(centre, r), bite), teal)}
	case "starting":
		top, bot := m+0.04, 1-m-0.04
		return []layer{out(polygon(
			vec{0.18, top}, vec{0.82, top}, vec{0.6, 0.5},
			vec{0.82, bot}, vec{0.18, bot}, vec{0.4, 0.5},
		), blue)}
	case "restarting":
		const half = 0.08        // half the arc's thickness
		const head = 0.18        // half the arrowhead's width
		r := 0.5 - m - head      // mid radius, so the head stays inside
		from, to := -15.0, 245.0 // clockwise on screen, gap at the top right
		tip := polar(centre, r, to+48)
		return []layer{out(union(
			arc(centre, r, half, from, to),
			polygon(polar(centre, r+head, to), tip, polar(centre, r-head, to)),
		), amber)}
	case "failed_after_max_restarts":
		top, bot := m+0.02, 1-m-0.04
		tri := polygon(vec{0.5, top}, vec{1 - m, bot}, vec{m, bot})
		bang := union(
			segment(vec{0.5, 0.38}, vec{0.5, 0.62}, 0.07),
			circle(vec{0.5, 0.775}, 0.075),
		)
		return []layer{out(tri, red), {shape: bang, fill: white}}
	case "stopped":
		h := 0.5 - m - 0.05
		return []layer{out(roundRect(centre, vec{h, h}, 0.1), grey)}
	case "not_spawning":
		const half = 0.085
		r := 0.5 - m - half
		d := (r - half) / math.Sqrt2
		l := out(union(
			ring(centre, r, half),
			segment(vec{0.5 - d, 0.5 - d}, vec{0.5 + d, 0.5 + d}, half),
		), grey)
		l.edge = circle(centre, r+half) // keep the two openings open
		return []layer{l}
	}
	panic("unknown state " + state)
}

// The app icon: a server with three units, each with a green light, on a
// dark rounded tile. It is drawn from rectangles and circles only, so the
// same geometry is written as SVG.
type appShape struct {
	rect       bool
	cx, cy     float64
	hw, hh, rr float64 // rect: half width/height, corner radius; circle: rr = radius
	fill       color.NRGBA
}

func appShapes() []appShape {
	s := []appShape{{rect: true, cx: 0.5, cy: 0.5, hw: 0.46, hh: 0.46, rr: 0.12, fill: slate}}
	for _, y := range []float64{0.27, 0.5, 0.73} {
		s = append(s,
			appShape{rect: true, cx: 0.5, cy: y, hw: 0.32, hh: 0.085, rr: 0.03, fill: light},
			appShape{cx: 0.72, cy: y, rr: 0.045, fill: green},
		)
	}
	return s
}

func appLayers(size int) []layer {
	var ls []layer
	for i, s := range appShapes() {
		var f sdf
		if s.rect {
			f = roundRect(vec{s.cx, s.cy}, vec{s.hw, s.hh}, s.rr)
		} else {
			f = circle(vec{s.cx, s.cy}, s.rr)
		}
		l := layer{shape: f, fill: s.fill}
		if i == 0 { // the tile: a thin dark edge so it reads on a dark panel too
			l.outline, l.stroke = math.Max(1, float64(size)/64), dark
		}
		ls = append(ls, l)
	}
	return ls
}

func hex(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// appSVG writes the app icon as a 256-unit SVG.
func appSVG() string {
	const k = 256.0
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!-- Generated by assets/icons/gen; do not edit. -->` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">` + "\n")
	for _, s := range appShapes() {
		if s.rect {
			fmt.Fprintf(&b, `  <rect x="%g" y="%g" width="%g" height="%g" rx="%g" fill="%s"/>`+"\n",
				(s.cx-s.hw)*k, (s.cy-s.hh)*k, 2*s.hw*k, 2*s.hh*k, s.rr*k, hex(s.fill))
		} else {
			fmt.Fprintf(&b, `  <circle cx="%g" cy="%g" r="%g" fill="%s"/>`+"\n", s.cx*k, s.cy*k, s.rr*k, hex(s.fill))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}
