! surrogate_ort: Fortran 2008 module over the C wrapper surrogate_ort.h (ISO_C_BINDING), for Fortran solvers.
!
!   use surrogate_ort
!   type(surrogate_model) :: model
!   call model%create('flamelet.onnx', threads=1, policy=SURROGATE_RANGE_CLIP, status=status, errmsg=errmsg)
!   call model%run(x, y, status, errmsg)    ! x(n_inputs, n_cells) -> y(n_outputs, n_cells), physical values
!   call model%destroy()
!
! Solver-grade: call model%open('flamelet.onnx', options, status, errmsg) with a type(surrogate_options) (rank-aware
! threads by default, no spinning, global thread pool, CUDA, manifold check); x and y may be real(c_double) too;
! model%backend() is 'table' for a table-backend file (the compiled lookup), else 'network';
! model%counters() totals the cells evaluated and those out of range or off the manifold over all calls, so a
! solver reports them once (e.g. at the end of a time step) instead of a warning per call. One handle may be used
! from several OpenMP threads at once.
! Each column of x is one cell, so x has the row-major [cell][input] layout the C API expects and no copy is
! made; ONNX Runtime writes y in place. status is SURROGATE_OK (0) or a SURROGATE_ERR_* code; errmsg then says why.
module surrogate_ort
    use, intrinsic :: iso_c_binding, only: c_ptr, c_null_ptr, c_associated, c_char, c_null_char, c_int, &
        c_int64_t, c_size_t, c_float, c_double, c_f_pointer
    implicit none
    private

    integer(c_int), parameter, public :: SURROGATE_RANGE_CLIP = 0, SURROGATE_RANGE_WARN = 1, &
        SURROGATE_RANGE_ERROR = 2, SURROGATE_RANGE_COUNT = 3, SURROGATE_THREADS_AUTO = -1
    integer(c_int), parameter, public :: SURROGATE_OK = 0, SURROGATE_ERR_ARGUMENT = 1, SURROGATE_ERR_NAN = 2, &
        SURROGATE_ERR_RANGE = 3, SURROGATE_ERR_RUNTIME = 4, SURROGATE_ERR_MEMORY = 5, SURROGATE_ERR_FILE = 6, &
        SURROGATE_ERR_MODEL = 7, SURROGATE_ERR_PROVIDER = 8, SURROGATE_ERR_THREADS = 9
    integer, parameter :: ERROR_SIZE = 1024

    public :: surrogate_model, surrogate_parse_range_policy

    ! surrogate_options of surrogate_ort.h, with its defaults (surrogate_options_init)
    type, bind(c), public :: surrogate_options
        integer(c_int) :: n_threads = SURROGATE_THREADS_AUTO
        integer(c_int) :: policy = SURROGATE_RANGE_CLIP
        integer(c_int) :: spinning = 0
        integer(c_int) :: global_thread_pool = 0
        integer(c_int) :: cuda = 0
        integer(c_int) :: cuda_device = 0
        integer(c_int) :: check_manifold = 1
        integer(c_int) :: table_graph = 0     ! table-backend files: 1 runs the file's ONNX graph, not the lookup
    end type surrogate_options

    ! surrogate_counters of surrogate_ort.h: totals over all calls on a handle
    type, bind(c), public :: surrogate_counters
        integer(c_int64_t) :: calls = 0, cells = 0, out_of_range_cells = 0, off_manifold_cells = 0, refused_calls = 0
    end type surrogate_counters

    type :: surrogate_model
        type(c_ptr) :: handle = c_null_ptr
    contains
        procedure :: create => model_create
        procedure :: open => model_open
        procedure :: run_float => model_run
        procedure :: run_double => model_run_double
        generic :: run => run_float, run_double
        procedure :: counters => model_counters
        procedure :: reset_counters => model_reset_counters
        procedure :: destroy => model_destroy
        procedure :: n_inputs => model_n_inputs
        procedure :: n_outputs => model_n_outputs
        procedure :: input_name => model_input_name
        procedure :: output_name => model_output_name
        procedure :: input_units => model_input_units
        procedure :: output_units => model_output_units
        procedure :: input_range => model_input_range
        procedure :: metadata => model_metadata
        procedure :: backend => model_backend
        procedure :: out_of_range_cells => model_out_of_range_cells
    end type surrogate_model

    interface
        function c_open(path, options, status, error, error_size) bind(c, name='surrogate_open')
            import :: c_ptr, c_char, c_int, c_size_t, surrogate_options
            character(kind=c_char), intent(in) :: path(*)
            type(surrogate_options), intent(in) :: options
            integer(c_int), intent(out) :: status
            character(kind=c_char), intent(out) :: error(*)
            integer(c_size_t), value :: error_size
            type(c_ptr) :: c_open
        end function c_open

        function c_run_double(handle, n_cells, inputs, outputs) bind(c, name='surrogate_run_double')
            import :: c_ptr, c_int, c_int64_t, c_double
            type(c_ptr), value :: handle
            integer(c_int64_t), value :: n_cells
            real(c_double), intent(in) :: inputs(*)
            real(c_double), intent(inout) :: outputs(*)
            integer(c_int) :: c_run_double
        end function c_run_double

        function c_get_counters(handle, counters) bind(c, name='surrogate_get_counters')
            import :: c_ptr, c_int, surrogate_counters
            type(c_ptr), value :: handle
            type(surrogate_counters), intent(out) :: counters
            integer(c_int) :: c_get_counters
        end function c_get_counters

        subroutine c_reset_counters(handle) bind(c, name='surrogate_reset_counters')
            import :: c_ptr
            type(c_ptr), value :: handle
        end subroutine c_reset_counters

        subroutine c_destroy(handle) bind(c, name='surrogate_destroy')
            import :: c_ptr
            type(c_ptr), value :: handle
        end subroutine c_destroy

        function c_run(handle, n_cells, inputs, outputs) bind(c, name='surrogate_run')
            import :: c_ptr, c_int, c_int64_t, c_float
            type(c_ptr), value :: handle
            integer(c_int64_t), value :: n_cells
            real(c_float), intent(in) :: inputs(*)
            real(c_float), intent(inout) :: outputs(*)
            integer(c_int) :: c_run
        end function c_run

        function c_message(handle) bind(c, name='surrogate_message')
            import :: c_ptr
            type(c_ptr), value :: handle
            type(c_ptr) :: c_message
        end function c_message

        function c_out_of_range_cells(handle) bind(c, name='surrogate_out_of_range_cells')
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: handle
            integer(c_int64_t) :: c_out_of_range_cells
        end function c_out_of_range_cells

        function c_parse_range_policy(name) bind(c, name='surrogate_parse_range_policy')
            import :: c_char, c_int
            character(kind=c_char), intent(in) :: name(*)
            integer(c_int) :: c_parse_range_policy
        end function c_parse_range_policy

        function c_input_range(handle, index, lo, hi) bind(c, name='surrogate_input_range')
            import :: c_ptr, c_int, c_double
            type(c_ptr), value :: handle
            integer(c_int), value :: index
            real(c_double), intent(out) :: lo, hi
            integer(c_int) :: c_input_range
        end function c_input_range

        function c_metadata(handle, key) bind(c, name='surrogate_metadata')
            import :: c_ptr, c_char
            type(c_ptr), value :: handle
            character(kind=c_char), intent(in) :: key(*)
            type(c_ptr) :: c_metadata
        end function c_metadata

        function c_backend(handle) bind(c, name='surrogate_backend')
            import :: c_ptr
            type(c_ptr), value :: handle
            type(c_ptr) :: c_backend
        end function c_backend

        function c_strlen(text) bind(c, name='strlen')
            import :: c_ptr, c_size_t
            type(c_ptr), value :: text
            integer(c_size_t) :: c_strlen
        end function c_strlen
    end interface

    ! The C accessors share two signatures; each is bound by name to one of these abstract interfaces.
    abstract interface
        function c_count(handle) bind(c)
            import :: c_ptr, c_int
            type(c_ptr), value :: handle
            integer(c_int) :: c_count
        end function c_count

        function c_text(handle, index) bind(c)
            import :: c_ptr, c_int
            type(c_ptr), value :: handle
            integer(c_int), value :: index
            type(c_ptr) :: c_text
        end function c_text

    end interface

    procedure(c_count), bind(c, name='surrogate_n_inputs') :: c_n_inputs
    procedure(c_count), bind(c, name='surrogate_n_outputs') :: c_n_outputs
    procedure(c_text), bind(c, name='surrogate_input_name') :: c_input_name
    procedure(c_text), bind(c, name='surrogate_output_name') :: c_output_name
    procedure(c_text), bind(c, name='surrogate_input_units') :: c_input_units
    procedure(c_text), bind(c, name='surrogate_output_units') :: c_output_units

contains

    ! A NUL-terminated C string as a Fortran string ('' for NULL).
    function from_c(text) result(string)
        type(c_ptr), intent(in) :: text
        character(len=:), allocatable :: string
        character(kind=c_char), pointer :: chars(:)
        integer :: i, n
        if (.not. c_associated(text)) then
            string = ''
            return
        end if
        n = int(c_strlen(text))
        call c_f_pointer(text, chars, [n])
        allocate (character(len=n) :: string)
        do i = 1, n
            string(i:i) = chars(i)
        end do
    end function from_c

    ! The text before the first NUL of a fixed-size C buffer.
    function from_buffer(buffer) result(string)
        character(kind=c_char), intent(in) :: buffer(:)
        character(len=:), allocatable :: string
        integer :: i, n
        n = size(buffer)
        do i = 1, size(buffer)
            if (buffer(i) == c_null_char) then
                n = i - 1
                exit
            end if
        end do
        allocate (character(len=n) :: string)
        do i = 1, n
            string(i:i) = buffer(i)
        end do
    end function from_buffer

    ! 'clip' | 'warn' | 'error' -> SURROGATE_RANGE_*, or -1.
    integer function surrogate_parse_range_policy(name)
        character(len=*), intent(in) :: name
        surrogate_parse_range_policy = c_parse_range_policy(trim(name)//c_null_char)
    end function surrogate_parse_range_policy

    ! surrogate_create's handle (threads 1..surrogate_max_threads(), 0 or SURROGATE_THREADS_AUTO; ONNX Runtime's
    ! spinning), opened through surrogate_open so that status is the SURROGATE_ERR_* code of a failure.
    subroutine model_create(self, path, threads, policy, status, errmsg)
        class(surrogate_model), intent(inout) :: self
        character(len=*), intent(in) :: path
        integer, intent(in) :: threads, policy
        integer, intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        type(surrogate_options) :: options
        character(len=:), allocatable :: message  ! errmsg passed on as it is crashed gfortran 12's runtime
        options%n_threads = int(threads, c_int)
        options%policy = int(policy, c_int)
        options%spinning = 1
        call self%open(path, options, status, message)
        if (present(errmsg)) errmsg = message
    end subroutine model_create

    ! surrogate_open: OPTIONS (default: type(surrogate_options) defaults); status SURROGATE_ERR_* on failure.
    subroutine model_open(self, path, options, status, errmsg)
        class(surrogate_model), intent(inout) :: self
        character(len=*), intent(in) :: path
        type(surrogate_options), intent(in), optional :: options
        integer, intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        type(surrogate_options) :: chosen
        character(kind=c_char) :: error(ERROR_SIZE)
        integer(c_int) :: code
        call self%destroy()
        if (present(options)) chosen = options
        error(1) = c_null_char
        self%handle = c_open(trim(path)//c_null_char, chosen, code, error, int(ERROR_SIZE, c_size_t))
        status = int(code)
        if (present(errmsg)) errmsg = from_buffer(error)
    end subroutine model_open

    ! Whether x(n_inputs, n_cells) and y(n_outputs, n_cells) fit the model; else status and errmsg say why.
    logical function shapes_fit(self, in_shape, out_shape, status, errmsg)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: in_shape(2), out_shape(2)
        integer, intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(len=160) :: text
        shapes_fit = in_shape(1) == self%n_inputs() .and. out_shape(1) == self%n_outputs() .and. &
                     in_shape(2) == out_shape(2)
        status = merge(SURROGATE_OK, SURROGATE_ERR_ARGUMENT, shapes_fit)
        if (shapes_fit .or. .not. present(errmsg)) return
        write (text, '(a, 2(i0, a), 4(i0, a))') 'expected inputs(', self%n_inputs(), ', n_cells) and outputs(', &
            self%n_outputs(), ', n_cells), got inputs(', in_shape(1), ', ', in_shape(2), ') and outputs(', &
            out_shape(1), ', ', out_shape(2), ')'
        errmsg = trim(text)
    end function shapes_fit

    ! outputs(:, k) = model(inputs(:, k)) for every cell k, under the model's range policy.
    subroutine model_run(self, inputs, outputs, status, errmsg)
        class(surrogate_model), intent(inout) :: self
        real(c_float), intent(in), contiguous, target :: inputs(:, :)
        real(c_float), intent(inout), contiguous, target :: outputs(:, :)
        integer, intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        if (.not. shapes_fit(self, shape(inputs), shape(outputs), status, errmsg)) return
        status = c_run(self%handle, int(size(inputs, 2), c_int64_t), inputs, outputs)
        if (present(errmsg)) errmsg = from_c(c_message(self%handle))
    end subroutine model_run

    ! The same in double precision (converted to the model's float32 inside, chunk by chunk).
    subroutine model_run_double(self, inputs, outputs, status, errmsg)
        class(surrogate_model), intent(inout) :: self
        real(c_double), intent(in), contiguous, target :: inputs(:, :)
        real(c_double), intent(inout), contiguous, target :: outputs(:, :)
        integer, intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        if (.not. shapes_fit(self, shape(inputs), shape(outputs), status, errmsg)) return
        status = c_run_double(self%handle, int(size(inputs, 2), c_int64_t), inputs, outputs)
        if (present(errmsg)) errmsg = from_c(c_message(self%handle))
    end subroutine model_run_double

    ! Totals over every call on this handle (all threads) since it was opened or reset.
    function model_counters(self) result(counters)
        class(surrogate_model), intent(in) :: self
        type(surrogate_counters) :: counters
        if (c_get_counters(self%handle, counters) /= SURROGATE_OK) counters = surrogate_counters()
    end function model_counters

    subroutine model_reset_counters(self)
        class(surrogate_model), intent(inout) :: self
        call c_reset_counters(self%handle)
    end subroutine model_reset_counters

    subroutine model_destroy(self)
        class(surrogate_model), intent(inout) :: self
        call c_destroy(self%handle)
        self%handle = c_null_ptr
    end subroutine model_destroy

    integer function model_n_inputs(self)
        class(surrogate_model), intent(in) :: self
        model_n_inputs = c_n_inputs(self%handle)
    end function model_n_inputs

    integer function model_n_outputs(self)
        class(surrogate_model), intent(in) :: self
        model_n_outputs = c_n_outputs(self%handle)
    end function model_n_outputs

    ! Names and units take 1-based indices, as Fortran arrays do.
    function model_input_name(self, i) result(name)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: i
        character(len=:), allocatable :: name
        name = from_c(c_input_name(self%handle, int(i - 1, c_int)))
    end function model_input_name

    function model_output_name(self, i) result(name)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: i
        character(len=:), allocatable :: name
        name = from_c(c_output_name(self%handle, int(i - 1, c_int)))
    end function model_output_name

    function model_input_units(self, i) result(units)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: i
        character(len=:), allocatable :: units
        units = from_c(c_input_units(self%handle, int(i - 1, c_int)))
    end function model_input_units

    function model_output_units(self, i) result(units)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: i
        character(len=:), allocatable :: units
        units = from_c(c_output_units(self%handle, int(i - 1, c_int)))
    end function model_output_units

    subroutine model_input_range(self, i, lo, hi)
        class(surrogate_model), intent(in) :: self
        integer, intent(in) :: i
        real(c_double), intent(out) :: lo, hi
        if (c_input_range(self%handle, int(i - 1, c_int), lo, hi) /= SURROGATE_OK) then
            lo = huge(lo)
            hi = -huge(hi)
        end if
    end subroutine model_input_range

    ! A metadata value as stored ('' when the key is absent), e.g. 'model', 'table_sha256'.
    function model_metadata(self, key) result(value)
        class(surrogate_model), intent(in) :: self
        character(len=*), intent(in) :: key
        character(len=:), allocatable :: value
        value = from_c(c_metadata(self%handle, trim(key)//c_null_char))
    end function model_metadata

    ! 'table' for a table-backend file (the compiled lookup, or its ONNX graph with options%table_graph = 1),
    ! 'network' otherwise.
    function model_backend(self) result(value)
        class(surrogate_model), intent(in) :: self
        character(len=:), allocatable :: value
        value = from_c(c_backend(self%handle))
    end function model_backend

    ! Cells of the last run with an input outside its trained range.
    integer(c_int64_t) function model_out_of_range_cells(self)
        class(surrogate_model), intent(in) :: self
        model_out_of_range_cells = c_out_of_range_cells(self%handle)
    end function model_out_of_range_cells

end module surrogate_ort
