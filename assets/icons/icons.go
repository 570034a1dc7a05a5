// Package icons holds the tray icon of every supervisor state and the app
// icon, drawn by ./gen and embedded in the binary.
//
// The state icons differ in shape as well as colour, so they can be told
// apart by people who do not see the colours and on monochrome panels:
//
//	running                    filled circle, green
//	starting                   hourglass, blue
//	restarting                 circular arrow, amber
//	failed_after_max_restarts  triangle with "!", red
//	stopped                    rounded square, grey
//	not_spawning               circle with a slash, grey
//
// Each has a dark outline so it reads on light and dark panels.
package icons

//go:generate go run ./gen -out .

import (
	"embed"
	"fmt"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

//go:embed png/*.png ico/*.ico app/*.png app/app.ico app/app.svg
var files embed.FS

// Sizes are the pixel sizes drawn as PNG, smallest first.
var Sizes = []int{16, 22, 24, 32, 64, 128, 256}

// PNG returns the icon of a state at a size as PNG bytes. A size that was
// not drawn gives the next larger one (the largest if size is bigger than
// all), so the caller scales down, never up. An unknown state gives nil.
func PNG(state status.State, size int) []byte {
	if !known(state) {
		return nil
	}
	return read(fmt.Sprintf("png/%s_%d.png", state, pick(size)))
}

// ICO returns the icon of a state as a Windows .ico holding 16 to 256 px
// images, or nil for an unknown state.
func ICO(state status.State) []byte {
	if !known(state) {
		return nil
	}
	return read("ico/" + string(state) + ".ico")
}

// App returns the application icon at a size as PNG bytes, chosen like PNG.
func App(size int) []byte { return read(fmt.Sprintf("app/app_%d.png", pick(size))) }

// AppICO returns the application icon as a Windows .ico.
func AppICO() []byte { return read("app/app.ico") }

// AppSVG returns the application icon as SVG.
func AppSVG() []byte { return read("app/app.svg") }

func known(state status.State) bool {
	for _, s := range status.States {
		if s == state {
			return true
		}
	}
	return false
}

func pick(size int) int {
	for _, s := range Sizes {
		if s >= size {
			return s
		}
	}
	return Sizes[len(Sizes)-1]
}

func read(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		// Every name read here is generated and embedded; a test checks
		// that all of them exist.
		return nil
	}
	return b
}
