// Package xfcepanel writes the configuration of the xfce4-panel that the
// desktop test bed (package desktoptest) and the benchmarks use as the tray
// host: one panel across the top of the screen holding only the systray
// plugin, which is both the StatusNotifierWatcher and the host.
package xfcepanel

import (
	"fmt"
	"os"
	"path/filepath"
)

// config is xfce4-panel's xfconf channel; %d is the panel's height. Written
// before the panel starts, it also keeps the panel from asking, on first
// start, which layout to use.
const config = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="%d"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
`

// WriteConfig writes the panel's configuration, height pixels high, into
// configHome (the XDG_CONFIG_HOME the panel will run with).
func WriteConfig(configHome string, height int) error {
	dir := filepath.Join(configHome, "xfce4", "xfconf", "xfce-perchannel-xml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("xfce4-panel config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xfce4-panel.xml"), fmt.Appendf(nil, config, height), 0o600); err != nil {
		return fmt.Errorf("xfce4-panel config: %w", err)
	}
	return nil
}
