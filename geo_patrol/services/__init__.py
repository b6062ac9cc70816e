"""Use cases, the one layer the CLI and the web app both call: load a source, analyse a
window, plan, draw maps and briefings, export, apply retention, run the demo, and check who
may write what."""
