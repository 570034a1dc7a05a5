package icons

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

// mask is the shape with colour removed: which pixels are mostly opaque.
func mask(img image.Image) []bool {
	b := img.Bounds()
	m := make([]bool, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			m = append(m, a >= 0x8000)
		}
	}
	return m
}

// names are every icon: the states' and the running variants.
func names() []string {
	var out []string
	for _, st := range status.States {
		out = append(out, string(st))
	}
	return append(out, Variants...)
}

func TestEveryStateAndSizeDecodes(t *testing.T) {
	for _, st := range names() {
		for _, size := range Sizes {
			b := pngNamed(st, size)
			if b == nil {
				t.Fatalf("PNG(%s, %d) = nil", st, size)
			}
			if got := decode(t, b).Bounds(); got.Dx() != size || got.Dy() != size {
				t.Errorf("PNG(%s, %d) is %v", st, size, got)
			}
		}
	}
	for _, size := range Sizes {
		if got := decode(t, App(size)).Bounds().Dx(); got != size {
			t.Errorf("App(%d) is %d px wide", size, got)
		}
	}
	if len(AppSVG()) == 0 || len(AppICO()) == 0 {
		t.Error("app SVG or ICO missing")
	}
}

func TestSizeAndStateLookup(t *testing.T) {
	for _, c := range []struct{ ask, want int }{{1, 16}, {16, 16}, {20, 22}, {48, 64}, {1000, 256}} {
		if got := decode(t, PNG(status.Running, c.ask)).Bounds().Dx(); got != c.want {
			t.Errorf("PNG(running, %d) is %d px, want %d", c.ask, got, c.want)
		}
	}
	if PNG("bogus", 16) != nil || ICO("bogus") != nil {
		t.Error("an unknown state gave an icon")
	}
}

// TestStatesDifferInShape checks that no two states share an icon, and that
// they differ with colour removed (alpha masks), at every tray size.
func TestStatesDifferInShape(t *testing.T) {
	for _, size := range []int{16, 22, 24, 32, 64} {
		masks := map[string][]bool{}
		raw := map[string][]byte{}
		all := names()
		for _, st := range all {
			img := decode(t, pngNamed(st, size))
			masks[st] = mask(img)
			raw[st] = img.(*image.NRGBA).Pix
		}
		for i, a := range all {
			for _, b := range all[i+1:] {
				if bytes.Equal(raw[a], raw[b]) {
					t.Errorf("%d px: %s and %s have the same pixels", size, a, b)
				}
				diff := 0
				for k := range masks[a] {
					if masks[a][k] != masks[b][k] {
						diff++
					}
				}
				// At least 4% of the pixels (10 of 256 at 16 px) must differ
				// in coverage alone.
				if min := size * size / 25; diff < min {
					t.Errorf("%d px: %s and %s differ in %d mask pixels only (want >= %d)", size, a, b, diff, min)
				} else {
					t.Logf("%d px: %s vs %s: %d mask pixels differ", size, a, b, diff)
				}
			}
		}
	}
}

// TestReadsOnLightAndDarkPanels composites each icon on a light and a dark
// panel colour and requires a clear mean luminance difference over the
// icon's area.
func TestReadsOnLightAndDarkPanels(t *testing.T) {
	lum := func(r, g, b float64) float64 { return 0.2126*r + 0.7152*g + 0.0722*b }
	for _, bg := range []float64{255, 240, 60, 30} {
		for _, st := range names() {
			for _, size := range []int{16, 22, 24, 32} {
				img := decode(t, pngNamed(st, size)).(*image.NRGBA)
				var sum, n float64
				for i := 0; i < len(img.Pix); i += 4 {
					a := float64(img.Pix[i+3]) / 255
					if a < 0.5 {
						continue
					}
					l := lum(float64(img.Pix[i]), float64(img.Pix[i+1]), float64(img.Pix[i+2]))
					l = a*l + (1-a)*bg
					d := l - bg
					if d < 0 {
						d = -d
					}
					sum += d
					n++
				}
				if n == 0 || sum/n < 40 {
					t.Errorf("%s at %d px on a panel of luminance %v: mean contrast %.0f, want >= 40", st, size, bg, sum/max(n, 1))
				}
			}
		}
	}
}

func TestICOContainer(t *testing.T) {
	for _, st := range names() {
		b := icoNamed(st)
		if len(b) < 6 || binary.LittleEndian.Uint16(b[0:]) != 0 || binary.LittleEndian.Uint16(b[2:]) != 1 {
			t.Fatalf("%s.ico: bad header", st)
		}
		n := int(binary.LittleEndian.Uint16(b[4:]))
		var sizes []int
		for i := 0; i < n; i++ {
			e := b[6+16*i:]
			w := int(e[0])
			if w == 0 {
				w = 256
			}
			length := binary.LittleEndian.Uint32(e[8:])
			off := binary.LittleEndian.Uint32(e[12:])
			if int(off+length) > len(b) {
				t.Fatalf("%s.ico: entry %d out of range", st, i)
			}
			img := decode(t, b[off:off+length])
			if img.Bounds().Dx() != w || img.Bounds().Dy() != w {
				t.Errorf("%s.ico: entry %d says %d px, image is %v", st, i, w, img.Bounds())
			}
			sizes = append(sizes, w)
		}
		if got := fmt.Sprint(sizes); got != "[16 20 24 32 48 64 256]" {
			t.Errorf("%s.ico sizes %s", st, got)
		}
	}
}

func TestNameOfAStatus(t *testing.T) {
	busy := status.Activity{SlotsBusy: 1, SlotsTotal: 4}
	tests := []struct {
		st   status.Status
		want string
	}{
		{status.Status{State: status.Running}, "running"},
		{status.Status{State: status.Running, Activity: status.Activity{SlotsTotal: 4}}, "running"},
		{status.Status{State: status.Running, Activity: busy}, RunningBusy},
		{status.Status{State: status.Running, Activity: busy, Sleeping: true}, RunningSleeping},
		{status.Status{State: status.Restarting, Activity: busy}, "restarting"},
	}
	for _, tt := range tests {
		if got := Name(tt.st); got != tt.want {
			t.Errorf("Name(%+v) = %s, want %s", tt.st, got, tt.want)
		}
		if PNGFor(tt.st, 22) == nil || ICOFor(tt.st) == nil {
			t.Errorf("no icon for %+v", tt.st)
		}
	}
}
