//go:build linux

package desktoptest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// panelConfig is xfce4-panel's xfconf channel: one panel across the top of
// the screen with only the systray plugin. Written before the panel starts,
// it also keeps the panel from asking, on first start, which layout to use.
const panelConfig = `<?xml version="1.0" encoding="UTF-8"?>
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

func writePanelConfig(t testing.TB, home string) {
	t.Helper()
	dir := filepath.Join(home, ".config", "xfce4", "xfconf", "xfce-perchannel-xml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xfce4-panel.xml"), []byte(fmt.Sprintf(panelConfig, PanelHeight)), 0o600); err != nil {
		t.Fatal(err)
	}
}
