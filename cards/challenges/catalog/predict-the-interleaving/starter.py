# One printed line per line. This guess reads the program top to bottom,
# as if nothing ran concurrently:
main created B
A start
A step 0
A step 1
A done
main awaits B
B start
B step 0
B done
main done
