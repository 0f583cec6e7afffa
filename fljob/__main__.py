from fljob.cli.main import main

main()
