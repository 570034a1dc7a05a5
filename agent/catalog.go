package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/models"
	"github.com/OpenCircuitDev/ocm-tray/notify"
	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/tray"
)

// catalog is the models folder as the tray's Models submenu shows it. The
// agent lists the folder on every load of the settings: the watcher
// reloads on any change in the models folder too, and the settle timer
// when a download may have finished.
type catalog struct {
	mu     sync.Mutex
	items  []tray.ModelItem
	router bool
	pokes  chan struct{}
}

func newCatalog() *catalog { return &catalog{pokes: make(chan struct{}, 1)} }

// Models returns the listing (tray.Catalog).
func (c *catalog) Models() ([]tray.ModelItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items, c.router
}

// Changes pokes the tray on every new listing (tray.Catalog). One reader.
func (c *catalog) Changes() (<-chan struct{}, func()) { return c.pokes, func() {} }

func (c *catalog) set(items []tray.ModelItem, router bool) {
	c.mu.Lock()
	c.items, c.router = items, router
	c.mu.Unlock()
	select {
	case c.pokes <- struct{}{}:
	default:
	}
}

// refreshCatalog lists the models folder of s. The caller holds mu.
func (a *agent) refreshCatalog(s settings.Settings) {
	dir := settings.ModelsDir(s, a.paths.ModelsDir)
	list, err := models.List(dir, time.Now())
	if err != nil {
		a.log.Warn("cannot list the models folder", "dir", dir, "err", err)
	}
	items := make([]tray.ModelItem, 0, len(list))
	for _, m := range list {
		items = append(items, tray.ModelItem{ID: m.ID, Label: menuLabel(m), Note: m.Problem})
	}
	a.catalog.set(items, s.Models.Mode == settings.ModeRouter)
}

// menuLabel is a model as the menu shows it: "qwen (494M, Q4_K_M, 491.4 MB)".
func menuLabel(m models.Model) string {
	var facts []string
	if p := models.Params(m.Params); p != "" {
		facts = append(facts, p)
	}
	if m.Quant != "" {
		facts = append(facts, m.Quant)
	}
	facts = append(facts, models.Bytes(m.Size))
	if m.Parts > 1 {
		facts = append(facts, fmt.Sprintf("%d parts", m.Parts))
	}
	return m.ID + " (" + strings.Join(facts, ", ") + ")"
}

// menuAction runs a model verb for the tray without making it wait: the
// verb may read files and ask the router. A refusal (the settings file is
// invalid or changed, the model is gone, no router runs) is told in a
// notification, since nothing else would show it.
func (a *agent) menuAction(ctx context.Context, what string, verb func() (string, error)) {
	a.menuWG.Add(1)
	go func() {
		defer a.menuWG.Done()
		msg, err := verb()
		if err == nil {
			a.log.Info("menu: "+what, "result", msg)
			return
		}
		a.log.Warn("menu: "+what+" refused", "err", err)
		m := notify.Message{Summary: "ocm-tray: cannot " + what, Body: err.Error()}
		if err := notify.Once(ctx, m); err != nil {
			a.log.Debug("notification not delivered", "err", err)
		}
	}()
}
