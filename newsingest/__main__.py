from newsingest.cli import main

main()
