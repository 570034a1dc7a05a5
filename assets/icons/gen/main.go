// Command gen draws the tray and app icons of package icons: a PNG per state
// and size, an ICO per state for Windows, and the app icon as PNG, ICO and
// SVG. Run it through `go generate ./assets/icons/`; the output is committed
// and a test checks that it is up to date.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
)

// States are the supervisor's state names (status.States) and the running
// icon's variants (icons.Variants); gen keeps its own copy so that it
// builds on its own.
var states = []string{"not_spawning", "starting", "running", "restarting", "failed_after_max_restarts", "stopped",
	"running_busy", "running_sleeping"}

// PNGSizes are the sizes drawn as PNG: the tray sizes of common panels
// (16, 22, 24, 32) and larger ones for HiDPI panels, menus and packaging.
var pngSizes = []int{16, 22, 24, 32, 64, 128, 256}

// icoSizes are the images inside each ICO: Windows picks 16, 20, 24 or 32
// for the notification area depending on the display scale.
var icoSizes = []int{16, 20, 24, 32, 48, 64, 256}

func main() {
	out := flag.String("out", ".", "directory of package icons")
	flag.Parse()
	files, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(*out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

// generate returns every output file by its slash-separated path relative to
// package icons. The output is deterministic.
func generate() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, st := range states {
		var ico []icoImage
		for _, size := range allSizes() {
			b, err := encode(glyph(st, size), size)
			if err != nil {
				return nil, err
			}
			if contains(pngSizes, size) {
				files[fmt.Sprintf("png/%s_%d.png", st, size)] = b
			}
			if contains(icoSizes, size) {
				ico = append(ico, icoImage{size, b})
			}
		}
		files["ico/"+st+".ico"] = buildICO(ico)
	}
	var ico []icoImage
	for _, size := range allSizes() {
		b, err := encode(appLayers(size), size)
		if err != nil {
			return nil, err
		}
		if contains(pngSizes, size) {
			files[fmt.Sprintf("app/app_%d.png", size)] = b
		}
		if contains(icoSizes, size) {
			ico = append(ico, icoImage{size, b})
		}
	}
	files["app/app.ico"] = buildICO(ico)
	files["app/app.svg"] = []byte(appSVG())
	return files, nil
}

func encode(layers []layer, size int) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, render(size, layers)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type icoImage struct {
	size int
	png  []byte
}

// buildICO writes an ICO container whose images are PNGs, which Windows
// reads since Vista: a 6-byte ICONDIR, a 16-byte ICONDIRENTRY per image,
// then the images.
func buildICO(images []icoImage) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	put16 := func(v uint16) { _ = binary.Write(&b, le, v) }
	put32 := func(v uint32) { _ = binary.Write(&b, le, v) }
	put16(0) // reserved
	put16(1) // type: icon
	put16(uint16(len(images)))
	offset := 6 + 16*len(images)
	for _, im := range images {
		dim := byte(im.size)
		if im.size >= 256 {
			dim = 0 // 0 means 256
		}
		b.WriteByte(dim) // width
		b.WriteByte(dim) // height
		b.WriteByte(0)   // palette colours
		b.WriteByte(0)   // reserved
		put16(1)         // colour planes
		put16(32)        // bits per pixel
		put32(uint32(len(im.png)))
		put32(uint32(offset))
		offset += len(im.png)
	}
	for _, im := range images {
		b.Write(im.png)
	}
	return b.Bytes()
}

func allSizes() []int {
	a, b := pngSizes, icoSizes
	var out []int
	for _, v := range append(append([]int{}, a...), b...) {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
