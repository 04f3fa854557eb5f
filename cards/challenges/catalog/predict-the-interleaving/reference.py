# main runs until its first real pause: creating B only schedules it.
main created B
A start
# A's sleep(0) gives way: B (ready since create_task) runs until its own sleep(0).
B start
A step 0
B step 0
B done
A step 1
A done
main awaits B
main done
