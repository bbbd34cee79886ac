// The `foresight` executable: the command line of ForesightCommands, parsed and run.

import ForesightCommands

Foresight.main()
