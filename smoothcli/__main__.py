from smoothcli.cli import main

main()
