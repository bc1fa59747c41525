# Install: the static library surrogate_ort, its C/C++ headers and Fortran module source, the ONNX Runtime library
# copied next to it (SURROGATE_BUNDLE_ONNXRUNTIME, so a solver never depends on a Python venv that `pip install -U`
# may change), a CMake package (find_package(thermo_surrogate) -> thermo_surrogate::surrogate_ort) and a pkg-config
# file (pkg-config --cflags --libs thermo_surrogate).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SURROGATE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/thermo_surrogate")
install(TARGETS surrogate_ort ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES surrogate_ort.h surrogate_ort.hpp DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/thermo_surrogate")
install(FILES surrogate_ort.f90 README.md DESTINATION "${CMAKE_INSTALL_DATADIR}/thermo_surrogate")

# The ONNX Runtime library the wrapper was built against, whichever way it was found.
if(ONNXRUNTIME_LIBRARY)
    set(_ort_library "${ONNXRUNTIME_LIBRARY}")
elseif(TARGET onnxruntime::onnxruntime)
    get_target_property(_ort_library onnxruntime::onnxruntime IMPORTED_LOCATION_RELEASE)
    if(NOT _ort_library)
        get_target_property(_ort_library onnxruntime::onnxruntime IMPORTED_LOCATION)
    endif()
else()
    list(GET ORT_LINK_LIBRARIES 0 _ort_library)
endif()
get_filename_component(_ort_real "${_ort_library}" REALPATH)
get_filename_component(_ort_dir "${_ort_real}" DIRECTORY)
get_filename_component(_ort_file "${_ort_real}" NAME)            # e.g. libonnxruntime.so.1.32.0
string(REGEX REPLACE "^(lib[^.]+\\.so\\.[0-9]+).*$" "\\1" _ort_soname "${_ort_file}")  # libonnxruntime.so.1

if(SURROGATE_BUNDLE_ONNXRUNTIME)
    install(FILES "${_ort_real}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
    # the provider bridge (and the CUDA provider of a GPU build), which ONNX Runtime loads from its own directory
    file(GLOB _ort_providers "${_ort_dir}/libonnxruntime_providers_*.so")
    if(_ort_providers)
        install(FILES ${_ort_providers} DESTINATION "${CMAKE_INSTALL_LIBDIR}")
    endif()
    foreach(_link IN ITEMS "${_ort_soname}" libonnxruntime.so)
        if(NOT _link STREQUAL _ort_file)
            install(CODE "execute_process(COMMAND \"${CMAKE_COMMAND}\" -E create_symlink \"${_ort_file}\"
                          \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/${_link}\")")
        endif()
    endforeach()
    set(SURROGATE_ORT_LOCATION "\${_thermo_surrogate_prefix}/${CMAKE_INSTALL_LIBDIR}/${_ort_file}")
    set(SURROGATE_PC_ORT_FLAGS "")
else()
    set(SURROGATE_ORT_LOCATION "${_ort_real}")
    set(SURROGATE_PC_ORT_FLAGS "-L${_ort_dir} -Wl,-rpath,${_ort_dir}")
endif()

configure_file(cmake/thermo_surrogateConfig.cmake.in thermo_surrogateConfig.cmake @ONLY)
write_basic_package_version_file(thermo_surrogateConfigVersion.cmake VERSION "${PROJECT_VERSION}"
                                 COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/thermo_surrogateConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/thermo_surrogateConfigVersion.cmake"
        DESTINATION "${SURROGATE_PACKAGE_DIR}")
# pkg-config: prefix written at install time (cmake --install --prefix may differ from the configured one)
set(prefix "@prefix@")  # kept for the second pass
configure_file(cmake/thermo_surrogate.pc.in thermo_surrogate.pc.in @ONLY)
install(CODE "set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
              configure_file(\"${CMAKE_CURRENT_BINARY_DIR}/thermo_surrogate.pc.in\"
                             \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/thermo_surrogate.pc\" @ONLY)")
