package tray

import (
	"sync"

	"fyne.io/systray"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// ModelItem is one model of the Models submenu.
type ModelItem struct {
	ID    string
	Label string // what the menu shows: "qwen (494M, Q4_K_M, 491.4 MB)"
	Note  string // why it cannot load now ("" when nothing is wrong)
}

// Catalog is the models folder as the Models submenu lists it (the agent
// keeps it current). Its methods are called on the tray's UI loop and must
// not block.
type Catalog interface {
	// Models returns the models in the folder, and whether llama-server
	// runs as a router (clicks load and unload) or not (a click chooses).
	Models() (items []ModelItem, router bool)
	// Changes pokes (coalesced) whenever Models would return something new,
	// until release is called.
	Changes() (pokes <-chan struct{}, release func())
}

// SetCatalog gives the tray its Models submenu. Call it before Run.
func (t *Tray) SetCatalog(c Catalog) { t.catalog = c }

// clickUnloadAll is the click of "Unload all"; other clicks are indexes
// into the submenu's model items.
const clickUnloadAll = -1

// itemView is what one model item shows.
type itemView struct {
	title, tooltip string
	checked        bool
}

// modelMenu is the Models submenu. The UI loop owns its items; the click
// goroutine reads only what mu guards.
type modelMenu struct {
	root      *systray.MenuItem
	empty     *systray.MenuItem // "No models in the models folder", disabled
	unloadAll *systray.MenuItem
	pool      []*systray.MenuItem // one per model shown; extra ones hidden
	shown     []itemView
	visible   int
	emptyOn   bool
	routerOn  bool
	forwarded int  // pool items whose clicks are forwarded
	unloadFwd bool // "Unload all" is forwarded

	clicks chan int
	done   <-chan struct{} // the click goroutines end on it
	fwd    sync.WaitGroup

	mu     sync.Mutex
	ids    []string // pool index -> model ID
	loaded []bool   // pool index -> loaded in the router (a click unloads)
	router bool
}

// viewModels decides what the submenu shows: one item per model, checked
// when it is the model (single mode) or loaded (router), its state or what
// is wrong with it after the label.
func viewModels(items []ModelItem, router bool, st status.Status) (views []itemView, loaded []bool) {
	states := st.ModelStates()
	for _, it := range items {
		v := itemView{title: it.Label}
		isLoaded := false
		if router {
			ms, known := states[it.ID]
			switch {
			case !known || st.State != status.Running:
			case ms.State == status.ModelLoaded || ms.State == status.ModelSleeping || ms.State == status.ModelLoading:
				isLoaded = true
				if ms.State != status.ModelLoaded {
					v.title += " — " + ms.State
				}
			case ms.State == status.ModelFailed:
				v.title += " — failed to load"
			}
			v.checked = isLoaded
			v.tooltip = "Load this model"
			if isLoaded {
				v.tooltip = "Unload this model"
			}
		} else {
			v.checked = it.ID == st.Model
			v.tooltip = "Use this model (sets model_id)"
		}
		if it.Note != "" && !isLoaded {
			v.title += " — " + it.Note
		}
		views = append(views, v)
		loaded = append(loaded, isLoaded)
	}
	return views, loaded
}

// buildModels adds the Models item and its fixed children. It runs in
// build, on systray's goroutine before the UI loop starts.
func (t *Tray) buildModels() {
	mm := &t.models
	mm.root = systray.AddMenuItem("Models", "Choose the model llama-server runs")
	mm.empty = mm.root.AddSubMenuItem("No models in the models folder", "Put .gguf files in models_dir")
	mm.empty.Disable()
	mm.emptyOn = true
	if t.catalog == nil {
		mm.root.Hide()
	}
}

// applyModels shows the catalog and the status in the submenu, touching
// only what changed unless force is set. UI loop only.
func (t *Tray) applyModels(st status.Status, force bool) {
	mm := &t.models
	if t.catalog == nil || mm.root == nil {
		return
	}
	items, router := t.catalog.Models()
	views, loaded := viewModels(items, router, st)

	// Grow the pool. "Unload all" stays last: it is made again below the
	// new items.
	grew := false
	for len(mm.pool) < len(views) {
		mm.pool = append(mm.pool, mm.root.AddSubMenuItemCheckbox("", "", false))
		mm.shown = append(mm.shown, itemView{})
		grew = true
	}
	if grew && mm.unloadAll != nil {
		mm.unloadAll.Remove() // closes its click channel: its forwarder ends
		mm.unloadAll, mm.unloadFwd = nil, false
	}
	if mm.unloadAll == nil {
		mm.unloadAll = mm.root.AddSubMenuItem("Unload all", "Unload every model, freeing their memory")
		mm.unloadAll.Hide()
		mm.routerOn = false
	}
	t.forwardModelClicks()

	for i, it := range mm.pool {
		if i >= len(views) {
			if i < mm.visible || force {
				it.Hide()
			}
			continue
		}
		v := views[i]
		if force || v.title != mm.shown[i].title {
			it.SetTitle(v.title)
		}
		if force || v.tooltip != mm.shown[i].tooltip {
			it.SetTooltip(v.tooltip)
		}
		if force || v.checked != mm.shown[i].checked {
			if v.checked {
				it.Check()
			} else {
				it.Uncheck()
			}
		}
		if force || i >= mm.visible {
			it.Show()
		}
		mm.shown[i] = v
	}
	mm.visible = len(views)
	if empty := len(views) == 0; force || empty != mm.emptyOn {
		if empty {
			mm.empty.Show()
		} else {
			mm.empty.Hide()
		}
		mm.emptyOn = empty
	}
	if force || router != mm.routerOn {
		if router {
			mm.unloadAll.Show()
		} else {
			mm.unloadAll.Hide()
		}
		mm.routerOn = router
	}

	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	mm.mu.Lock()
	mm.ids, mm.loaded, mm.router = ids, loaded, router
	mm.mu.Unlock()
}

// forwardModelClicks starts a goroutine per new item that passes its
// clicks to the click goroutine: systray gives each item a channel of its
// own, and the items come and go while the click goroutine runs.
func (t *Tray) forwardModelClicks() {
	mm := &t.models
	if mm.done == nil {
		return // not running yet: the UI loop forwards them on its first look
	}
	forward := func(ch <-chan struct{}, code int) {
		mm.fwd.Add(1)
		go func() {
			defer mm.fwd.Done()
			for {
				select {
				case <-mm.done:
					return
				case _, ok := <-ch:
					if !ok {
						return // the item was removed
					}
					select {
					case mm.clicks <- code:
					case <-mm.done:
						return
					}
				}
			}
		}()
	}
	for ; mm.forwarded < len(mm.pool); mm.forwarded++ {
		forward(mm.pool[mm.forwarded].ClickedCh, mm.forwarded)
	}
	if !mm.unloadFwd && mm.unloadAll != nil {
		forward(mm.unloadAll.ClickedCh, clickUnloadAll)
		mm.unloadFwd = true
	}
}

// modelClick does what a click on the submenu means: in single mode use
// the model, with a router load or unload it; "Unload all". Click
// goroutine; the actions only post.
func (t *Tray) modelClick(code int) {
	mm := &t.models
	mm.mu.Lock()
	router := mm.router
	var id string
	var loaded bool
	if code >= 0 && code < len(mm.ids) {
		id, loaded = mm.ids[code], mm.loaded[code]
	}
	mm.mu.Unlock()
	a := t.actions
	var f func(string)
	switch {
	case code == clickUnloadAll:
		call(t, "unload all", a.UnloadAll)
		return
	case id == "":
		return
	case !router:
		f = a.UseModel
	case loaded:
		f = a.UnloadModel
	default:
		f = a.LoadModel
	}
	if f != nil {
		call(t, "model "+id, func() { f(id) })
	}
}

// call runs a menu action, if there is one, and survives its panic.
func call(t *Tray, name string, f func()) {
	t.log.Debug("tray: menu click", "item", name)
	if f == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			t.log.Error("tray: menu action failed", "item", name, "panic", r)
		}
	}()
	f()
}
