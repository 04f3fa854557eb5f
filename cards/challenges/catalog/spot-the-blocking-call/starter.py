# Line numbers of the lines that block the event loop, e.g. 12, 30
19, 48
