from oligomet.cli import main

main()
