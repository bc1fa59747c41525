! example_fortran: a thermo-surrogate ONNX model from Fortran through the module surrogate_ort.
!
!   example_fortran MODEL.onnx CELLS.csv OUT.csv [clip|warn|error] [THREADS]
!
! Reads the cells (CSV, header = the model's input names), runs them as columns of x(n_inputs, n_cells) under
! the range policy (default error) and writes the outputs as CSV; runs them again in double precision (the same
! numbers) and prints the handle's counters. Exit status: 0 success, 1 failure, 2 usage.
program example_fortran
    use, intrinsic :: iso_c_binding, only: c_float, c_double
    use, intrinsic :: iso_fortran_env, only: error_unit
    use surrogate_ort
    implicit none

    type(surrogate_model) :: model
    character(len=:), allocatable :: model_path, cells_path, out_path, errmsg, text
    real(c_float), allocatable :: x(:, :), y(:, :)
    real(c_double), allocatable :: xd(:, :), yd(:, :)
    type(surrogate_counters) :: totals
    type(surrogate_options) :: options
    integer :: policy, threads, status, i

    if (command_argument_count() < 3 .or. command_argument_count() > 5) then
        write (error_unit, '(a)') 'usage: example_fortran MODEL.onnx CELLS.csv OUT.csv [clip|warn|error] [THREADS]'
        stop 2
    end if
    model_path = argument(1)
    cells_path = argument(2)
    out_path = argument(3)
    policy = SURROGATE_RANGE_ERROR
    if (command_argument_count() >= 4) policy = surrogate_parse_range_policy(argument(4))
    if (policy < 0) call fail('the policy is clip, warn or error, not '''//argument(4)//'''', 2)
    threads = 1
    if (command_argument_count() >= 5) then
        text = argument(5)
        read (text, *, iostat=status) threads
        if (status /= 0 .or. threads < 0) call fail('THREADS is a non-negative integer', 2)
    end if

    options%n_threads = threads
    options%policy = policy
    call model%open(model_path, options, status, errmsg)  ! surrogate_open: status tells the kind of failure
    if (status /= SURROGATE_OK) call fail(errmsg, 1)
    call print_info()

    call read_cells(cells_path, x)
    allocate (y(model%n_outputs(), size(x, 2)))
    call model%run(x, y, status, errmsg)
    if (status /= SURROGATE_OK) call fail(errmsg, 1)
    write (*, '(a, i0, a, i0, a)') 'ran ', size(x, 2), ' cells: ', model%out_of_range_cells(), &
        ' outside the trained range'
    call write_cells(out_path, y)
    xd = real(x, c_double)
    allocate (yd(model%n_outputs(), size(x, 2)))
    call model%run(xd, yd, status, errmsg)
    if (status /= SURROGATE_OK) call fail(errmsg, 1)
    ! a network's doubles are its floats widened; the table lookup is in double, its floats those rounded
    if (any(real(yd, c_float) /= y)) call fail('the double precision run differs from the float one', 1)
    totals = model%counters()
    write (*, '(a, 4(i0, a))') 'counters: calls=', totals%calls, ' cells=', totals%cells, ' out_of_range=', &
        totals%out_of_range_cells, ' off_manifold=', totals%off_manifold_cells, ''
    call model%destroy()

contains

    function argument(k) result(value)
        integer, intent(in) :: k
        character(len=:), allocatable :: value
        integer :: length
        call get_command_argument(k, length=length)
        allocate (character(len=length) :: value)
        call get_command_argument(k, value)
    end function argument

    subroutine fail(message, code)
        character(len=*), intent(in) :: message
        integer, intent(in) :: code
        write (error_unit, '(a)') 'example_fortran: error: '//message
        call model%destroy()
        if (code == 2) stop 2
        stop 1
    end subroutine fail

    subroutine print_info()
        real(c_double) :: lo, hi
        write (*, '(3a)') 'model ', model_path, ' ('//model%metadata('model')//', '// &
            model%metadata('precision')//')'
        write (*, '(2a)') 'backend ', model%backend()
        do i = 1, model%n_inputs()
            call model%input_range(i, lo, hi)
            write (*, '(4x, a, " [", es15.8, ", ", es15.8, "] ", a)') model%input_name(i), lo, hi, &
                model%input_units(i)
        end do
        do i = 1, model%n_outputs()
            write (*, '(4x, a, 1x, a)') model%output_name(i), model%output_units(i)
        end do
    end subroutine print_info

    ! The header names the model's inputs in order: each later line is one cell, one column of x.
    subroutine read_cells(path, x)
        character(len=*), intent(in) :: path
        real(c_float), allocatable, intent(out) :: x(:, :)
        character(len=4096) :: line
        character(len=:), allocatable :: expected
        integer :: unit, n_cells, k
        expected = header_line(inputs=.true.)
        open (newunit=unit, file=path, status='old', action='read', iostat=status)
        if (status /= 0) call fail('cannot open input file '//path, 1)
        read (unit, '(a)', iostat=status) line
        if (status /= 0 .or. compact(line) /= expected) &
            call fail(path//': header line does not list the model''s inputs in order ('//expected//')', 1)
        n_cells = 0
        do
            read (unit, '(a)', iostat=status) line
            if (status /= 0) exit
            if (len_trim(line) > 0) n_cells = n_cells + 1
        end do
        allocate (x(model%n_inputs(), n_cells))
        rewind (unit)
        read (unit, '(a)') line
        k = 0
        do while (k < n_cells)
            read (unit, '(a)') line
            if (len_trim(line) == 0) cycle
            k = k + 1
            read (line, *, iostat=status) x(:, k)
            if (status /= 0) call fail(path//': expected one number per input in line: '//trim(line), 1)
        end do
        close (unit)
    end subroutine read_cells

    ! The model's input (or output) names joined by commas: the header line of a cell file.
    function header_line(inputs) result(line)
        logical, intent(in) :: inputs
        character(len=:), allocatable :: line
        integer :: k
        line = ''
        if (inputs) then
            do k = 1, model%n_inputs()
                line = line//merge(',', ' ', k > 1)//model%input_name(k)
            end do
        else
            do k = 1, model%n_outputs()
                line = line//merge(',', ' ', k > 1)//model%output_name(k)
            end do
        end if
        line = trim(adjustl(line))
    end function header_line

    ! LINE without blanks.
    function compact(line) result(text)
        character(len=*), intent(in) :: line
        character(len=:), allocatable :: text
        integer :: j
        text = ''
        do j = 1, len_trim(line)
            if (line(j:j) /= ' ' .and. line(j:j) /= achar(13)) text = text//line(j:j)
        end do
    end function compact

    ! Header of output names, then one cell per line with 9 significant digits (exact for float32).
    subroutine write_cells(path, y)
        character(len=*), intent(in) :: path
        real(c_float), intent(in) :: y(:, :)
        integer :: unit, k
        open (newunit=unit, file=path, status='replace', action='write', iostat=status)
        if (status /= 0) call fail('cannot write '//path, 1)
        write (unit, '(a)') header_line(inputs=.false.)
        do k = 1, size(y, 2)
            write (unit, '(*(es16.8e3, :, ","))') y(:, k)
        end do
        close (unit)
    end subroutine write_cells

end program example_fortran
