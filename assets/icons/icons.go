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
// and while running, two variants:
//
//	running_busy               speech bubble with three dots, green (a slot is generating)
//	running_sleeping           crescent moon, teal (the model sleeps until the next request)
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

// The running icon's variants, named like their files.
const (
	RunningBusy     = "running_busy"
	RunningSleeping = "running_sleeping"
)

// Variants lists the running icon's variants.
var Variants = []string{RunningBusy, RunningSleeping}

// Name is the icon that shows st: its state's, or while running the
// sleeping variant (the model is unloaded) or the busy one (a slot is
// processing).
func Name(st status.Status) string {
	if st.State == status.Running {
		switch {
		case st.Sleeping:
			return RunningSleeping
		case st.Activity.Busy():
			return RunningBusy
		}
	}
	return string(st.State)
}

// PNGFor is PNG for the icon that shows st (Name).
func PNGFor(st status.Status, size int) []byte { return pngNamed(Name(st), size) }

// ICOFor is ICO for the icon that shows st (Name).
func ICOFor(st status.Status) []byte { return icoNamed(Name(st)) }

// PNG returns the icon of a state at a size as PNG bytes. A size that was
// not drawn gives the next larger one (the largest if size is bigger than
// all), so the caller scales down, never up. An unknown state gives nil.
func PNG(state status.State, size int) []byte { return pngNamed(string(state), size) }

func pngNamed(name string, size int) []byte {
	if !known(name) {
		return nil
	}
	return read(fmt.Sprintf("png/%s_%d.png", name, pick(size)))
}

// ICO returns the icon of a state as a Windows .ico holding 16 to 256 px
// images, or nil for an unknown state.
func ICO(state status.State) []byte { return icoNamed(string(state)) }

func icoNamed(name string) []byte {
	if !known(name) {
		return nil
	}
	return read("ico/" + name + ".ico")
}

// App returns the application icon at a size as PNG bytes, chosen like PNG.
func App(size int) []byte { return read(fmt.Sprintf("app/app_%d.png", pick(size))) }

// AppICO returns the application icon as a Windows .ico.
func AppICO() []byte { return read("app/app.ico") }

// AppSVG returns the application icon as SVG.
func AppSVG() []byte { return read("app/app.svg") }

func known(name string) bool {
	for _, s := range status.States {
		if string(s) == name {
			return true
		}
	}
	for _, v := range Variants {
		if v == name {
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
