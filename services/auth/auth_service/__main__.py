import sys

from auth_service.main import main

sys.exit(main())
