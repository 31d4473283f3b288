import sys

from scripts.new_module import main

sys.exit(main())
